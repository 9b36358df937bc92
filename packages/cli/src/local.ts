import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@pia/aws";
import { type EventMapping, formatIssue, type InputFormat, type SinkName } from "@pia/core";
import type { LocalRunSummary } from "@pia/local-runtime";
import { LocalPipeline, runLocalPipeline, serialize, serveRulesUi } from "@pia/local-runtime";
import { loadSinkConfig, type SinkConfig } from "@pia/notifier";
import { UsageError } from "./errors.js";
import { loadRulesFile } from "./loadRulesFile.js";
import { startProgress } from "./progress.js";
import { readLines } from "./readLines.js";

export interface LocalOptions {
  readonly rulesFile: string;
  readonly eventsFile: string;
  /** The records' format (default `auto`); `json` needs `mapping`. */
  readonly format?: InputFormat;
  readonly mapping?: EventMapping;
  readonly out: string;
  readonly now: number;
  readonly stderr: NodeJS.WriteStream;
  /** A sink to deliver to besides the file (`--sink`). */
  readonly sink?: SinkConfig;
}

/** `pia local`'s flags (`--rules`, `--events` and `--out` are required without `--ui`). */
export interface LocalFlags {
  readonly rules?: string;
  readonly events?: string;
  readonly out?: string;
  readonly now?: string;
  readonly ui?: boolean;
  readonly format: InputFormat;
  readonly mapping?: string;
  readonly port: number;
  readonly writeKey?: string;
  readonly sink: SinkName;
  readonly pinpointApp?: string;
  readonly profilesDomain?: string;
  readonly profilesKey?: string;
  readonly profilesObjectType?: string;
  readonly eventBus?: string;
  readonly webhookUrl?: string;
  readonly webhookSecretParameter?: string;
  readonly webhookSecretId?: string;
}

/**
 * The settings of `--sink`: its flags, else the notifier's environment variables of the same
 * meaning (`PINPOINT_APPLICATION_ID`, `EVENT_BUS_NAME`, …). Missing ones are a usage error that
 * names them all.
 */
export function localSinkConfig(
  flags: LocalFlags,
  env: Readonly<Record<string, string | undefined>>,
): SinkConfig {
  const fromFlags: Record<string, string | undefined> = {
    PINPOINT_APPLICATION_ID: flags.pinpointApp,
    PROFILES_DOMAIN: flags.profilesDomain,
    PROFILES_KEY: flags.profilesKey,
    PROFILES_OBJECT_TYPE: flags.profilesObjectType,
    EVENT_BUS_NAME: flags.eventBus,
    WEBHOOK_URL: flags.webhookUrl,
    WEBHOOK_SECRET_PARAMETER: flags.webhookSecretParameter,
    WEBHOOK_SECRET_ID: flags.webhookSecretId,
  };
  const merged = {
    ...env,
    ...Object.fromEntries(Object.entries(fromFlags).filter(([, value]) => value !== undefined)),
  };
  try {
    return loadSinkConfig(merged, flags.sink);
  } catch (error: unknown) {
    if (error instanceof ConfigError) throw new UsageError(`--sink ${flags.sink}: ${error.message}`);
    throw error;
  }
}

/**
 * The records of an NDJSON file for the local stream. A line over the record limit, which the
 * reader does not hold, goes on as its first `MAX_RECORD_BYTES + 1` bytes: still over the limit, so
 * ingest quarantines it as `too_large` (with the first 256 KiB, as it keeps of any record).
 */
async function* recordLines(file: string): AsyncGenerator<string> {
  for await (const line of readLines(file))
    yield typeof line === "string" ? line : line.head.toString("utf8");
}

/**
 * `pia local`: the whole pipeline on the embedded local stack (DynamoDB Local, a local SQS), through
 * the services' real handlers; the file sink writes `out`, with the same contract as `pia simulate`.
 */
export async function runLocal(options: LocalOptions): Promise<LocalRunSummary> {
  const { rules, warnings } = await loadRulesFile(options.rulesFile);
  for (const warning of warnings) options.stderr.write(`${formatIssue(warning, options.rulesFile)}\n`);
  // The file sink appends: a previous run's lines must not mix with this one's.
  await rm(options.out, { force: true });
  const progress = startProgress(options.stderr, "records fed");
  try {
    return await runLocalPipeline({
      rules,
      lines: recordLines(options.eventsFile),
      out: options.out,
      now: options.now,
      ...(options.sink === undefined ? {} : { sink: options.sink }),
      ...(options.format === undefined ? {} : { inputFormat: options.format }),
      ...(options.mapping === undefined ? {} : { inputMapping: options.mapping }),
      kinesisBatchSize: 1000,
      streamBatchSize: 1000,
      onProgress: (n) => progress.tick(n),
    });
  } finally {
    progress.stop();
  }
}

export interface LocalUiOptions {
  readonly rulesFile?: string;
  readonly eventsFile?: string;
  /** The format of `eventsFile`'s records and of the pipeline's ingest (default `auto`). */
  readonly format?: InputFormat;
  readonly mapping?: EventMapping;
  /** The file sink's NDJSON (replaced); default: a temporary file, removed at the end. */
  readonly out?: string;
  /** The schedule's clock for the run, and the rules API's: previews' "today", changes' time. */
  readonly clock: () => number;
  /** The editor's port on localhost; 0 picks a free one. */
  readonly port: number;
  /** The collection endpoint's write key (`--write-key`, default `DEFAULT_LOCAL_WRITE_KEY`). */
  readonly writeKey?: string;
  /** How often the schedule runs while serving, on `clock` (default `LOCAL_SCHEDULE_EVERY_MS`). */
  readonly scheduleEveryMs?: number;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly sink?: SinkConfig;
  /** Settles when serving should stop (`pia`: at Ctrl-C); given the editor's URL. */
  readonly untilStopped: (url: string) => Promise<void>;
}

/**
 * The local collection endpoint's write key when `--write-key` is not given: fixed and documented,
 * so an app's dev settings keep working from one run to the next. It guards a server that listens
 * on the loopback interface only; a deployed stage's key lives in SSM (services/collect).
 */
export const DEFAULT_LOCAL_WRITE_KEY = "pia-local-write-key";

/** While serving, the schedule runs this often, so closing rules are decided for posted events. */
export const LOCAL_SCHEDULE_EVERY_MS = 5000;

function portInUse(port: number): UsageError {
  return new UsageError(
    `--port ${port}: the port is in use; stop what listens there or choose another port (--port 0 picks a free one)`,
  );
}

/** Fails before the stack starts when the port is taken (the server binds it only after the run). */
async function checkPortFree(port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? portInUse(port) : error),
    );
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}

/**
 * `pia local --ui`: the local pipeline, with the rules pushed and the events run through it when
 * given (ingest writes the preview index, so previews see them), then, beside the still running
 * pipeline, the rules editor and the rules API (the real handler, on the same tables) on
 * http://localhost:PORT until `untilStopped` settles; then everything stops.
 */
export async function runLocalUi(options: LocalUiOptions): Promise<LocalRunSummary> {
  await checkPortFree(options.port);
  const { rules, warnings } =
    options.rulesFile === undefined ? { rules: [], warnings: [] } : await loadRulesFile(options.rulesFile);
  for (const warning of warnings) options.stderr.write(`${formatIssue(warning, options.rulesFile)}\n`);
  const temporary = options.out === undefined ? await mkdtemp(join(tmpdir(), "pia-ui-")) : undefined;
  const out = options.out ?? join(temporary ?? "", "notifications.ndjson");
  await rm(out, { force: true });
  const progress = startProgress(options.stderr, "records fed");
  try {
    const pipeline = await LocalPipeline.start({
      rules,
      out,
      previewIndex: true,
      ...(options.sink === undefined ? {} : { sink: options.sink }),
      ...(options.format === undefined ? {} : { inputFormat: options.format }),
      ...(options.mapping === undefined ? {} : { inputMapping: options.mapping }),
      kinesisBatchSize: 1000,
      streamBatchSize: 1000,
      onProgress: (n) => progress.tick(n),
    });
    try {
      return await runThenServe(pipeline, options, out, progress);
    } finally {
      await pipeline.stop();
    }
  } finally {
    progress.stop();
    if (temporary !== undefined) await rm(temporary, { recursive: true, force: true });
  }
}

/** Runs the events through the pipeline, then serves the editor beside it until told to stop. */
async function runThenServe(
  pipeline: LocalPipeline,
  options: LocalUiOptions,
  out: string,
  progress: ReturnType<typeof startProgress>,
): Promise<LocalRunSummary> {
  if (options.eventsFile !== undefined) await pipeline.feed(recordLines(options.eventsFile));
  await pipeline.drain();
  await pipeline.runSchedule(options.clock());
  const summary = await pipeline.summary();
  progress.stop();
  if (options.eventsFile !== undefined) {
    // No notification, no file: the file sink creates it on its first line.
    const counts = await countByRule(out);
    options.stderr.write(`${formatLocalSummary(summary, counts)}\n`);
  }
  // Posted calls and the schedule take turns on the pipeline, which runs one thing at a time.
  const inTurn = serialize();
  const writeKey = options.writeKey ?? DEFAULT_LOCAL_WRITE_KEY;
  const collect = {
    writeKey,
    put: (lines: readonly string[]) =>
      inTurn(async () => {
        await pipeline.feed(lines);
        await pipeline.drain();
      }),
  };
  const ui = await serveRulesUi({
    stack: pipeline.stack,
    port: options.port,
    now: options.clock,
    collect,
  }).catch((error: unknown) => {
    throw (error as NodeJS.ErrnoException).code === "EADDRINUSE" ? portInUse(options.port) : error;
  });
  options.stdout.write(`rules editor: ${ui.url} (the rules API is under it; Ctrl-C stops everything)\n`);
  options.stdout.write(
    `collection endpoint: ${ui.url}v1/batch and ${ui.url}v1/track (Segment's HTTP API; Basic auth, write key ${writeKey} as user name)\n`,
  );
  const schedule = runScheduleEvery(options.scheduleEveryMs ?? LOCAL_SCHEDULE_EVERY_MS, () =>
    inTurn(() => pipeline.runSchedule(options.clock())).catch((error: unknown) => {
      options.stderr.write(
        `the local schedule failed: ${error instanceof Error ? error.message : String(error)}\n`,
      );
    }),
  );
  try {
    await options.untilStopped(ui.url);
  } finally {
    await ui.close();
    schedule.stop();
    // The pipeline stops after what is under way.
    await inTurn(async () => {});
  }
  return summary;
}

/** Runs `task` every `ms`, counted from the end of the previous run, until stopped. */
function runScheduleEvery(ms: number, task: () => Promise<void>): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const next = () => {
    timer = setTimeout(() => {
      void task().finally(() => {
        if (!stopped) next();
      });
    }, ms);
  };
  next();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

const number = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: 1 });

/** The human summary: records in, skipped by reason, notifications by rule, cost per 1,000 events. */
export function formatLocalSummary(
  summary: LocalRunSummary,
  notificationsByRule: ReadonlyMap<string, number>,
): string {
  const { ingest, cost } = summary;
  const skipped = Object.entries(ingest.skipped ?? {}).filter(([, n]) => n > 0);
  const skippedTotal = skipped.reduce((total, [, n]) => total + n, 0);
  const per1000 = (n: number) => (ingest.records > 0 ? (n * 1000) / ingest.records : 0);
  const rules = [...notificationsByRule].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const width = Math.max(8, ...rules.map(([id]) => id.length));
  const lines = [
    `records fed        ${number(ingest.records ?? 0)} in ${(summary.elapsedMs / 1000).toFixed(1)} s (local pipeline)`,
    // A redelivery across batches writes nothing (its item is stored already, first write wins),
    // so the stream carries each event once: the events aggregate received are the distinct ones.
    `  applied          ${number(summary.aggregate.applied ?? 0)}`,
    `  duplicate        ${number((ingest.applied ?? 0) + (ingest.duplicate ?? 0) - (summary.aggregate.applied ?? 0))}`,
    `  ignored          ${number(ingest.ignored ?? 0)} (system "_" and our own "trk_" events)`,
    `  skipped          ${number(skippedTotal)}${skipped.length === 0 ? "" : ` (${skipped.map(([reason, n]) => `${reason} ${number(n)}`).join(", ")})`}; kept in the quarantine table`,
  ];
  if (summary.blankLines > 0) lines.push(`blank lines        ${number(summary.blankLines)} (not records)`);
  lines.push(`notifications      ${number([...notificationsByRule.values()].reduce((a, b) => a + b, 0))}`);
  for (const [id, n] of rules) lines.push(`  ${id.padEnd(width)}  ${number(n)}`);
  lines.push(
    `DynamoDB           ${number(per1000(cost.dynamodb.requests))} requests, ${number(per1000(cost.dynamodb.writeUnits))} write units, ${number(per1000(cost.dynamodb.readUnits))} read units per 1,000 records`,
    `SQS                ${number(per1000(cost.sqs.requests))} requests per 1,000 records`,
  );
  if (summary.onFailure.kinesis + summary.onFailure.stream > 0 || summary.deadLetters > 0) {
    lines.push(
      `failures           ${summary.onFailure.kinesis} Kinesis and ${summary.onFailure.stream} stream batches given up; ${summary.deadLetters} messages in the DLQ`,
    );
    if (summary.onFailure.lastError !== undefined)
      lines.push(`  last error       ${summary.onFailure.lastError}`);
  }
  return lines.join("\n");
}

/** Notifications per rule in an NDJSON file of notifications (the file sink's output). */
export async function countByRule(file: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  try {
    // The file sink writes no line near the record limit; a longer one is not a notification.
    for await (const line of readLines(file)) {
      if (typeof line !== "string" || line.trim() === "") continue;
      const { ruleId } = JSON.parse(line) as { ruleId: string };
      counts.set(ruleId, (counts.get(ruleId) ?? 0) + 1);
    }
  } catch (error: unknown) {
    // The file sink creates its file with the first notification: none is no file.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  return counts;
}
