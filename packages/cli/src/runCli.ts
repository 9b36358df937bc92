import type { BackfillMode, StageReader, StageTableNames } from "@pia/aws";
import { formatIssue, INPUT_FORMATS, InvalidMappingError, InvalidRulesError, SINK_NAMES } from "@pia/core";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import type { QueueFlags } from "./dlqCommands.js";
import { EXIT, UsageError } from "./errors.js";
import { explain } from "./explain.js";
import { explainStage } from "./explainStage.js";
import { formatSummary } from "./formatSummary.js";
import { loadRulesFile } from "./loadRulesFile.js";
import type { LocalFlags } from "./local.js";
import { ProfilesError } from "./ProfilesError.js";
import { parseNow } from "./parseNow.js";
import type { ProfilesSetupFlags } from "./profilesCommands.js";
import { RulesTableError } from "./RulesTableError.js";
import { type InputFlags, resolveInput } from "./resolveInput.js";
import { type Env, resolveRulesTarget, type TableFlags } from "./resolveRulesTarget.js";
import {
  backfillStatus,
  importHoneycodeRules,
  listRules,
  type OpenHoneycodeRows,
  type OpenRulesStore,
  onRulesTable,
  pushRules,
  type RulesCommandContext,
  removeRule,
} from "./rulesCommands.js";
import { simulate } from "./simulate.js";
import { writeSample } from "./writeSample.js";

export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** The real clock, read once per command: the default of `--now`. */
  readonly now: () => number;
}

/** What the commands reach beyond their arguments; tests replace them. */
export interface CliDeps {
  /** Opens the rules table (default: `openRulesTable`, the AWS SDK with its default credentials). */
  readonly openRulesStore?: OpenRulesStore;
  /** Opens Honeycode tables (default: `openHoneycodeRows`, the AWS SDK with its default credentials). */
  readonly openHoneycodeRows?: OpenHoneycodeRows;
  /** Environment variables (default: `process.env`). */
  readonly env?: Env;
  /** Settles when `pia local --ui` should stop serving (default: at Ctrl-C or SIGTERM). */
  readonly untilStopped?: (url: string) => Promise<void>;
  /** Opens a stage's events and counters tables for `pia explain --stage` (default: the AWS SDK). */
  readonly openStageReader?: (
    target: { region: string; endpoint?: string },
    tables: StageTableNames,
  ) => Promise<StageReader>;
}

/** Settles at the first SIGINT (Ctrl-C) or SIGTERM, which then no longer end the process. */
function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

function portNumber(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65_535) throw new InvalidArgumentError("expected a port, 0 to 65535");
  return value;
}

function wholeNumber(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min)
      throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return value;
  };
}

/** `--format` and `--mapping`, on every command that reads events. */
function withInputOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--format <format>",
        "the records' format: pinpoint records, segment track calls, json through --mapping; auto tells pinpoint and segment apart per record",
      )
        .choices([...INPUT_FORMATS])
        .default("auto"),
    )
    .option(
      "--mapping <file>",
      "with --format json: YAML or JSON naming where each field is (docs/rules.md)",
    );
}

/** The flags of every command on the rules table. */
function withTableOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        "--table <name>",
        "the rules table (default: pia-<stage>-rules with --stage, else $PIA_RULES_TABLE)",
      ).conflicts("stage"),
    )
    .option("--stage <stage>", "use the rules table of a deployed stage: pia-<stage>-rules")
    .option("--region <region>", "AWS region (default: $AWS_REGION, else us-east-1)")
    .option(
      "--endpoint <url>",
      "DynamoDB endpoint, e.g. http://localhost:8000 (default: the SDK's, which honours AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL)",
    );
}

// Commands that need the AWS SDK or the local stack import their module when they run (`await
// import(...)`), so `pia simulate`, `rules validate`, `sample` and `--help` never load them: the built
// CLI keeps each dynamic import a separate chunk (packages/cli/scripts/buildCli.mjs).
function buildProgram(io: CliIo, deps: CliDeps): Command {
  const env = deps.env ?? process.env;
  const tableContext = (flags: TableFlags): RulesCommandContext => ({
    target: resolveRulesTarget(flags, env),
    openStore: deps.openRulesStore ?? (async (target) => (await import("@pia/aws")).openRulesTable(target)),
    env,
    stdout: io.stdout,
    stderr: io.stderr,
  });
  const program = new Command("pia")
    .description("Pinpoint Incremental Analytics: per-user count and sum rules over a Pinpoint event stream")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      "after",
      "\nExit codes: 0 success; 1 a file could not be read or written, or the rules table failed; 2 invalid rules or invalid arguments.",
    )
    .exitOverride();

  withInputOptions(
    program
      .command("simulate")
      .description("Evaluate rules on an NDJSON file of events, in memory (docs/rules.md)")
      .requiredOption("--rules <file>", "rules: .csv (12/13-column table), .json or .yaml (canonical)")
      .requiredOption("--events <file>", "NDJSON, one record per line in --format (.gz accepted)"),
  )
    .option("--out <file>", "write notifications (NDJSON) here instead of stdout")
    .option("--now <iso>", "clock for closing (window) rules; no offset means UTC (default: the real time)")
    .action(async (options: { rules: string; events: string; out?: string; now?: string } & InputFlags) => {
      const input = await resolveInput(options);
      const result = await simulate({
        rulesFile: options.rules,
        eventsFile: options.events,
        ...input,
        ...(options.out === undefined ? {} : { out: options.out }),
        now: options.now === undefined ? io.now() : parseNow(options.now),
        stdout: io.stdout,
        stderr: io.stderr,
      });
      io.stderr.write(`${formatSummary(result)}\n`);
      if (options.out !== undefined) io.stderr.write(`notifications written to ${options.out}\n`);
    });

  withInputOptions(
    program
      .command("explain")
      .description("Explain one rule for one user, decided exactly as pia simulate decides it")
      .option("--rules <file>", "rules: .csv (12/13-column table), .json or .yaml (canonical)")
      .option("--events <file>", "NDJSON, one record per line in --format (.gz accepted)")
      .requiredOption("--rule <id>", "the rule's id")
      .requiredOption("--user <id>", "the user's id"),
  )
    .option(
      "--app <id>",
      "only this app (default: one block per app the user has events in; required with --stage)",
    )
    .option(
      "--stage <stage>",
      "instead of --rules and --events: the rule from pia-<stage>-rules, the user's stored events from pia-<stage>-events, and the pipeline's state from pia-<stage>-counters",
    )
    .option("--region <region>", "with --stage: AWS region (default: $AWS_REGION, else us-east-1)")
    .option("--endpoint <url>", "with --stage: DynamoDB endpoint, e.g. http://localhost:8000")
    .option("--now <iso>", "clock for closing and rolling rules, as simulate's (default: the real time)")
    .option("--limit <n>", "events listed per app, newest first", wholeNumber(0), 20)
    .action(
      async (
        options: {
          rules?: string;
          events?: string;
          rule: string;
          user: string;
          app?: string;
          stage?: string;
          region?: string;
          endpoint?: string;
          now?: string;
          limit: number;
        } & InputFlags,
      ) => {
        const now = options.now === undefined ? io.now() : parseNow(options.now);
        if (options.stage !== undefined) {
          if (options.rules !== undefined || options.events !== undefined) {
            throw new UsageError(
              "--stage reads the rules and events of the stage: leave out --rules and --events",
            );
          }
          if (options.app === undefined) {
            throw new UsageError(
              '--stage needs --app: the events table is keyed by app and user (--app "" for events without an app id)',
            );
          }
          const target = resolveRulesTarget(
            {
              stage: options.stage,
              ...(options.region === undefined ? {} : { region: options.region }),
              ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
            },
            env,
          );
          const tables = {
            rules: target.tableName,
            events: `pia-${options.stage}-events`,
            counters: `pia-${options.stage}-counters`,
          };
          const text = await onRulesTable(
            tableContext({
              stage: options.stage,
              ...(options.region === undefined ? {} : { region: options.region }),
              ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
            }),
            async (store) => {
              const rules = await store.list();
              const reader = await (
                deps.openStageReader ??
                (async (where, names) => (await import("@pia/aws")).openStageReader(where, names))
              )(target, tables);
              return explainStage({
                rules,
                tables,
                reader,
                ruleId: options.rule,
                userId: options.user,
                appId: options.app as string,
                now,
                limit: options.limit,
              });
            },
          );
          io.stdout.write(text);
          return;
        }
        if (options.rules === undefined || options.events === undefined) {
          throw new UsageError(
            "pass --rules FILE and --events FILE, or --stage STAGE to read a deployed stage",
          );
        }
        const input = await resolveInput(options);
        const text = await explain({
          rulesFile: options.rules,
          eventsFile: options.events,
          ruleId: options.rule,
          userId: options.user,
          ...(options.app === undefined ? {} : { appId: options.app }),
          ...input,
          now,
          limit: options.limit,
          stderr: io.stderr,
        });
        io.stdout.write(text);
      },
    );

  withInputOptions(
    program
      .command("local")
      .description(
        "Run the whole pipeline locally (DynamoDB Local + a local SQS, the services' real handlers); same output as simulate",
      )
      .option("--rules <file>", "rules: .csv (12/13-column table), .json or .yaml (canonical)")
      .option("--events <file>", "NDJSON, one record per line in --format (.gz accepted)"),
  )
    .option("--out <file>", "the file sink: notifications as NDJSON (replaced)")
    .option(
      "--now <iso>",
      "the schedule's clock for closing rules; no offset means UTC (default: the real time)",
    )
    .option(
      "--ui",
      "then serve the rules editor and API on http://localhost:PORT over the stack until Ctrl-C (--rules, --events and --out optional; --now is also the API's clock)",
    )
    .addOption(
      new Option("--port <n>", "the rules editor's port with --ui (0: any free port)")
        .argParser(portNumber)
        .default(8787),
    )
    .option(
      "--write-key <key>",
      "with --ui: the write key of the collection endpoint (POST /v1/track, /v1/batch, Basic auth; default pia-local-write-key)",
    )
    .addOption(
      new Option(
        "--sink <name>",
        "also deliver to this sink (its settings: flags below or the notifier's env variables)",
      )
        .choices([...SINK_NAMES])
        .default("file"),
    )
    .option("--pinpoint-app <id>", "pinpoint: the application id (default: each event's app)")
    .option("--profiles-domain <name>", "customer-profiles: the domain")
    .option(
      "--profiles-key <key>",
      "customer-profiles: the search key your profiles are found by, holding the user id (as given to pia profiles setup)",
    )
    .option(
      "--profiles-object-type <name>",
      "customer-profiles: pia's object type (default pia-notification, as pia profiles setup creates it)",
    )
    .option("--event-bus <name>", "eventbridge: the bus name or ARN")
    .option("--webhook-url <url>", "webhook: the https URL")
    .option("--webhook-secret-parameter <name>", "webhook: SSM SecureString holding the HMAC secret")
    .option("--webhook-secret-id <id>", "webhook: Secrets Manager secret holding the HMAC secret")
    .action(async (options: LocalFlags) => {
      const { countByRule, formatLocalSummary, localSinkConfig, runLocal, runLocalUi } = await import(
        "./local.js"
      );
      if (options.ui === true) {
        const now = options.now === undefined ? undefined : parseNow(options.now);
        const input = await resolveInput(options);
        await runLocalUi({
          ...input,
          ...(options.rules === undefined ? {} : { rulesFile: options.rules }),
          ...(options.events === undefined ? {} : { eventsFile: options.events }),
          ...(options.out === undefined ? {} : { out: options.out }),
          clock: now === undefined ? io.now : () => now,
          port: options.port,
          ...(options.writeKey === undefined ? {} : { writeKey: options.writeKey }),
          stdout: io.stdout,
          stderr: io.stderr,
          ...(options.sink === "file" ? {} : { sink: localSinkConfig(options, env) }),
          untilStopped: deps.untilStopped ?? untilInterrupted,
        });
        if (options.out !== undefined) io.stderr.write(`notifications written to ${options.out}\n`);
        return;
      }
      const { rules, events, out } = options;
      if (rules === undefined || events === undefined || out === undefined) {
        const missing = Object.entries({
          "--rules <file>": rules,
          "--events <file>": events,
          "--out <file>": out,
        })
          .filter(([, value]) => value === undefined)
          .map(([flag]) => `'${flag}'`);
        throw new UsageError(
          `required option${missing.length === 1 ? "" : "s"} ${missing.join(", ")} not specified (only --ui runs without them)`,
        );
      }
      const input = await resolveInput(options);
      const summary = await runLocal({
        rulesFile: rules,
        eventsFile: events,
        ...input,
        out,
        now: options.now === undefined ? io.now() : parseNow(options.now),
        stderr: io.stderr,
        ...(options.sink === "file" ? {} : { sink: localSinkConfig(options, env) }),
      });
      io.stderr.write(`${formatLocalSummary(summary, await countByRule(out))}\n`);
      io.stderr.write(`notifications written to ${out}\n`);
    });

  const dlq = program
    .command("dlq")
    .description("The notifications dead-letter queue: what failed and why, and redrive after a fix");
  const withQueueOptions = (command: Command) =>
    command
      .option(
        "--stage <stage>",
        "a deployed stage: queues pia-<stage>-notifications and pia-<stage>-notifications-dlq",
      )
      .option("--queue-url <url>", "the notifications queue (with --dlq-url, instead of --stage)")
      .option("--dlq-url <url>", "its dead-letter queue")
      .option("--region <region>", "AWS region (default: $AWS_REGION, else us-east-1)")
      .option(
        "--endpoint <url>",
        "SQS endpoint, e.g. a local SQS (default: the SDK's, which honours AWS_ENDPOINT_URL_SQS)",
      )
      .addOption(
        new Option("--max <n>", "at most this many messages").argParser(wholeNumber(1)).default(100),
      );
  withQueueOptions(
    dlq.command("list").description("List dead letters: notification id, rule, failure and reason"),
  )
    .option("--json", "print JSON")
    .action(async (options: QueueFlags & { max: number; json?: boolean }) => {
      const { dlqList } = await import("./dlqCommands.js");
      await dlqList(options, env, io.stdout);
    });
  withQueueOptions(
    dlq.command("redrive").description("Move dead letters back to the notifications queue"),
  ).action(async (options: QueueFlags & { max: number }) => {
    const { dlqRedrive } = await import("./dlqCommands.js");
    await dlqRedrive(options, env, io.stdout);
  });

  program
    .command("profiles")
    .description("Amazon Connect Customer Profiles, where the customer-profiles sink writes")
    .command("setup")
    .description(
      "Create pia's object type on an existing domain (PROFILE key --key on the user id, UNIQUE key on the notification id, profile creation allowed), or find it there; changes nothing on a second run",
    )
    .requiredOption("--domain <name>", "the Customer Profiles domain (it must exist)")
    .requiredOption(
      "--key <key>",
      "the search key your app's profiles are found by, which will hold the user id (e.g. the PROFILE key of your own object type, or _segmentUserId)",
    )
    .option("--object-type <name>", "pia's object type (default pia-notification)")
    .option("--region <region>", "AWS region (default: $AWS_REGION, else us-east-1)")
    .option(
      "--endpoint <url>",
      "Customer Profiles endpoint (default: the SDK's, which honours AWS_ENDPOINT_URL_CUSTOMER_PROFILES)",
    )
    .action(async (flags: ProfilesSetupFlags) => {
      const { setupProfiles } = await import("./profilesCommands.js");
      await setupProfiles(flags, env, io.stdout);
    });

  const rules = program.command("rules").description("Work with rule files and the deployed rules table");
  rules
    .command("validate")
    .description("Check a rules file and list every error with its line, column or field, and the reason")
    .argument("<file>", "rules: .csv, .json or .yaml")
    .action(async (file: string) => {
      const { rules: loaded, warnings } = await loadRulesFile(file);
      for (const warning of warnings) io.stderr.write(`${formatIssue(warning, file)}\n`);
      io.stdout.write(`${file}: ${loaded.length} valid rule${loaded.length === 1 ? "" : "s"}\n`);
    });
  withTableOptions(
    rules
      .command("push")
      .description(
        "Make a rules file the rule set of the rules table: writes new and changed rules, deletes the others (an invalid file writes nothing)",
      )
      .argument("<file>", "rules: .csv, .json or .yaml")
      .addOption(
        new Option(
          "--backfill [mode]",
          "also count the stored events for each written rule whose counting is new (not rolling windows); notify (the default) sends what the history decides, silent only counts it",
        )
          .choices(["notify", "silent"])
          .preset("notify"),
      ),
  ).action(async (file: string, flags: TableFlags & { backfill?: BackfillMode }) => {
    await pushRules(
      file,
      tableContext(flags),
      flags.backfill === undefined ? {} : { backfill: flags.backfill },
    );
  });
  withTableOptions(
    rules
      .command("status")
      .description(
        "List the backfills of the rules table: rule, state, mode, boundary, settledAt, days read, users merged, events read, notifications, requested and finished",
      ),
  ).action(async (flags: TableFlags) => {
    await backfillStatus(tableContext(flags));
  });
  withTableOptions(
    rules
      .command("import")
      .description(
        "Make the rules of a Honeycode table (the 12-column layout) the rule set of the rules table, as push does with a file",
      )
      .requiredOption("--honeycode", "import from a Honeycode table (the one source so far)")
      .requiredOption("--workbook <id>", "the Honeycode workbook id")
      .requiredOption(
        "--honeycode-table <id>",
        "the Honeycode table id (--table names the rules table, as for push)",
      )
      .addOption(
        new Option(
          "--honeycode-region <region>",
          "Honeycode's region (it only ever ran in us-west-2); AWS_ENDPOINT_URL_HONEYCODE overrides the endpoint",
        ).default("us-west-2"),
      )
      .option(
        "--dry-run",
        "validate and print the rules that would be written; the rules table is not touched",
      ),
  ).action(
    async (
      flags: TableFlags & {
        workbook: string;
        honeycodeTable: string;
        honeycodeRegion: string;
        dryRun?: boolean;
      },
    ) => {
      await importHoneycodeRules(
        {
          workbookId: flags.workbook,
          tableId: flags.honeycodeTable,
          region: flags.honeycodeRegion,
          openRows:
            deps.openHoneycodeRows ??
            (async (region) => (await import("@pia/aws")).openHoneycodeRows(region)),
          dryRun: flags.dryRun === true,
        },
        tableContext(flags),
      );
    },
  );
  withTableOptions(
    rules
      .command("list")
      .description("List the rules of the rules table: id, event, condition, window, action")
      .option("--json", "print canonical rules (JSON) instead, which push accepts back"),
  ).action(async (flags: TableFlags & { json?: boolean }) => {
    await listRules(tableContext(flags), { json: flags.json === true });
  });
  withTableOptions(
    rules
      .command("rm")
      .description("Remove one rule from the rules table (exit 1 when there is no such id)")
      .argument("<id>", "the rule id"),
  ).action(async (id: string, flags: TableFlags) => {
    await removeRule(id, tableContext(flags));
  });

  program
    .command("sample")
    .description("Write deterministic, realistic sample data: events.ndjson and a matching rules.csv")
    .requiredOption("--out <dir>", "directory to write into")
    .addOption(new Option("--users <n>", "number of users").argParser(wholeNumber(1)).default(2_000))
    .addOption(new Option("--events <n>", "number of records").argParser(wholeNumber(0)).default(50_000))
    .addOption(new Option("--seed <s>", "random seed").argParser(wholeNumber(0)).default(1))
    .addOption(
      new Option("--rules <n>", "generate n varied rules instead of the hand-picked set").argParser(
        wholeNumber(1),
      ),
    )
    .option("--gzip", "write events.ndjson.gz")
    .addOption(
      new Option(
        "--format <format>",
        "the records' form: Pinpoint records or Segment track calls, same events",
      )
        .choices(["pinpoint", "segment"])
        .default("pinpoint"),
    )
    .action(
      async (options: {
        out: string;
        users: number;
        events: number;
        seed: number;
        rules?: number;
        gzip?: boolean;
        format: "pinpoint" | "segment";
      }) => {
        const written = await writeSample(options.out, {
          users: options.users,
          events: options.events,
          seed: options.seed,
          format: options.format,
          ...(options.rules === undefined ? {} : { rules: options.rules }),
          ...(options.gzip === undefined ? {} : { gzip: options.gzip }),
        });
        io.stdout.write(
          `wrote ${written.eventsFile} (${options.events.toLocaleString("en-US")} records) and ${written.rulesFile}\n`,
        );
      },
    );

  return program;
}

function isNodeError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === "string";
}

/** Runs one pia command and returns its exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIo, deps: CliDeps = {}): Promise<number> {
  try {
    await buildProgram(io, deps).parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (error: unknown) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (error instanceof InvalidRulesError || error instanceof InvalidMappingError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.invalid;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`pia: ${error.message}\n`);
      return EXIT.invalid;
    }
    if (
      error instanceof RulesTableError ||
      error instanceof ProfilesError ||
      (error instanceof Error && error.name === "HoneycodeReadError")
    ) {
      io.stderr.write(`pia: ${error.message}\n`);
      return EXIT.failure;
    }
    if (isNodeError(error) && error.syscall !== undefined) {
      io.stderr.write(`pia: cannot ${error.syscall} ${error.path ?? "file"}: ${error.code}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`pia: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  }
}
