import { rm } from "node:fs/promises";
import { ConfigError } from "@pia/aws";
import { formatIssue, type SinkName } from "@pia/core";
import type { LocalRunSummary } from "@pia/local-runtime";
import { runLocalPipeline } from "@pia/local-runtime";
import { loadSinkConfig, type SinkConfig } from "@pia/notifier";
import { UsageError } from "./errors.js";
import { loadRulesFile } from "./loadRulesFile.js";
import { startProgress } from "./progress.js";
import { readLines } from "./readLines.js";

export interface LocalOptions {
  readonly rulesFile: string;
  readonly eventsFile: string;
  readonly out: string;
  readonly now: number;
  readonly stderr: NodeJS.WriteStream;
  /** A sink to deliver to besides the file (`--sink`). */
  readonly sink?: SinkConfig;
}

/** `pia local`'s flags. */
export interface LocalFlags {
  readonly rules: string;
  readonly events: string;
  readonly out: string;
  readonly now?: string;
  readonly sink: SinkName;
  readonly pinpointApp?: string;
  readonly profilesDomain?: string;
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
      lines: readLines(options.eventsFile),
      out: options.out,
      now: options.now,
      ...(options.sink === undefined ? {} : { sink: options.sink }),
      kinesisBatchSize: 1000,
      streamBatchSize: 1000,
      onProgress: (n) => progress.tick(n),
    });
  } finally {
    progress.stop();
  }
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
    // A redelivery across batches rewrites an identical item, which the stream does not report:
    // the events aggregate received are the distinct ones.
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
  for await (const line of readLines(file)) {
    if (line.trim() === "") continue;
    const { ruleId } = JSON.parse(line) as { ruleId: string };
    counts.set(ruleId, (counts.get(ruleId) ?? 0) + 1);
  }
  return counts;
}
