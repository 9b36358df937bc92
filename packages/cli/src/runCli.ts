import { formatIssue, InvalidRulesError } from "@pia/core";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { EXIT, UsageError } from "./errors.js";
import { formatSummary } from "./formatSummary.js";
import { loadRulesFile } from "./loadRulesFile.js";
import { parseNow } from "./parseNow.js";
import { writeSample } from "./sample.js";
import { simulate } from "./simulate.js";

export interface CliIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** The real clock, read once per command: the default of `--now`. */
  readonly now: () => number;
}

function wholeNumber(min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min)
      throw new InvalidArgumentError(`expected a whole number >= ${min}`);
    return value;
  };
}

function buildProgram(io: CliIo): Command {
  const program = new Command("pia")
    .description("Pinpoint Incremental Analytics: per-user count and sum rules over a Pinpoint event stream")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      "after",
      "\nExit codes: 0 success; 1 a file could not be read or written; 2 invalid rules or invalid arguments.",
    )
    .exitOverride();

  program
    .command("simulate")
    .description("Evaluate rules on an NDJSON export of Pinpoint records, in memory (RULES.md semantics)")
    .requiredOption("--rules <file>", "rules: .csv (12/13-column table), .json or .yaml (canonical)")
    .requiredOption("--events <file>", "NDJSON, one Pinpoint event-stream record per line (.gz accepted)")
    .option("--out <file>", "write notifications (NDJSON) here instead of stdout")
    .option("--now <iso>", "clock for closing (window) rules; no offset means UTC (default: the real time)")
    .action(async (options: { rules: string; events: string; out?: string; now?: string }) => {
      const result = await simulate({
        rulesFile: options.rules,
        eventsFile: options.events,
        ...(options.out === undefined ? {} : { out: options.out }),
        now: options.now === undefined ? io.now() : parseNow(options.now),
        stdout: io.stdout,
        stderr: io.stderr,
      });
      io.stderr.write(`${formatSummary(result)}\n`);
      if (options.out !== undefined) io.stderr.write(`notifications written to ${options.out}\n`);
    });

  const rules = program.command("rules").description("Work with rule files");
  rules
    .command("validate")
    .description("Check a rules file and list every error with its line, column or field, and the reason")
    .argument("<file>", "rules: .csv, .json or .yaml")
    .action(async (file: string) => {
      const { rules: loaded, warnings } = await loadRulesFile(file);
      for (const warning of warnings) io.stderr.write(`${formatIssue(warning, file)}\n`);
      io.stdout.write(`${file}: ${loaded.length} valid rule${loaded.length === 1 ? "" : "s"}\n`);
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
    .action(
      async (options: {
        out: string;
        users: number;
        events: number;
        seed: number;
        rules?: number;
        gzip?: boolean;
      }) => {
        const written = await writeSample(options.out, {
          users: options.users,
          events: options.events,
          seed: options.seed,
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
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: "user" });
    return EXIT.ok;
  } catch (error: unknown) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (error instanceof InvalidRulesError) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.invalid;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`pia: ${error.message}\n`);
      return EXIT.invalid;
    }
    if (isNodeError(error) && error.syscall !== undefined) {
      io.stderr.write(`pia: cannot ${error.syscall} ${error.path ?? "file"}: ${error.code}\n`);
      return EXIT.failure;
    }
    io.stderr.write(`pia: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.failure;
  }
}
