import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "@pia/core";
import { type LocalRunSummary, runLocalPipeline } from "@pia/local-runtime";
import { startDynamoDbLocal } from "@pia/local-stack";
import { generateSampleEvents } from "@pia/sample";
import { type OriginalReplaySummary, replayOriginalDesign } from "./replayOriginalDesign.js";
import { sampleRules } from "./sampleRules.js";

/** `bench:pipeline`'s JSON: ours (the local pipeline) and the original design on the same records. */
export interface PipelineBenchResult {
  readonly events: number;
  readonly users: number;
  readonly notifications: number;
  readonly wallSeconds: number;
  readonly eventsPerSecond: number;
  readonly ddb: DynamoDbCost;
  readonly sqs: { readonly requests: number };
  readonly original: {
    readonly ddb: DynamoDbCost;
    readonly ruleLookups: number;
    readonly wallSeconds: number;
  };
}

export interface DynamoDbCost {
  readonly requests: number;
  readonly readUnits: number;
  readonly writeUnits: number;
}

export interface PipelineBenchOptions {
  readonly events: number;
  readonly users: number;
  readonly seed?: number;
  /** Days the event times spread over, from 2021-01-01 (default 181, to 2021-06-30). */
  readonly days?: number;
  /** See `OriginalReplayOptions.scanStride`. */
  readonly scanStride?: number;
  /** Records fed so far, by design (`ours`, then `original`). */
  readonly onProgress?: (design: "ours" | "original", records: number) => void;
}

/** What the table and the report show beyond the JSON. */
export interface PipelineBenchDetails {
  readonly ours: LocalRunSummary;
  /** What `pia simulate` gives on the same records: the pipeline must deliver exactly as many. */
  readonly simulatedNotifications: number;
  readonly original: OriginalReplaySummary;
}

/** The schedule's clock: every window of the default rules has closed by then. */
export const PIPELINE_NOW = Date.parse("2021-07-01T00:00:00Z");

/** Users for N pipeline events: 20 events each, as in `npm run demo`, at least 10 users. */
export function pipelineSampleUsers(events: number): number {
  return Math.max(10, Math.round(events / 20));
}

const roundTo = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

function costOf(tally: { requests: number; readUnits: number; writeUnits: number }): DynamoDbCost {
  return {
    requests: tally.requests,
    readUnits: roundTo(tally.readUnits, 1),
    writeUnits: roundTo(tally.writeUnits, 1),
  };
}

/**
 * Generates N deterministic sample records and runs them with the ten default rules, first
 * through the local pipeline (`runLocalPipeline`: the four services' real handlers on DynamoDB
 * Local and a local SQS, Kinesis and stream batches of 1,000, as `pia local`), then through the
 * model of the original design on a DynamoDB Local of its own. Both are counted by the same
 * middleware; each wall time includes starting its DynamoDB Local and creating its tables.
 */
export async function measurePipeline(
  options: PipelineBenchOptions,
): Promise<{ result: PipelineBenchResult; details: PipelineBenchDetails }> {
  const { events, users } = options;
  const lines = [
    ...generateSampleEvents({
      users,
      events,
      seed: options.seed ?? 42,
      ...(options.days === undefined ? {} : { days: options.days }),
    }),
  ];
  const rules = sampleRules();
  const engine = new Engine(rules);
  let simulatedNotifications = 0;
  for (const line of lines) if (line.trim() !== "") simulatedNotifications += engine.ingest(line).length;
  simulatedNotifications += engine.close(PIPELINE_NOW).length;
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-pipeline-"));
  try {
    const out = join(dir, "notifications.ndjson");
    const ours = await runLocalPipeline({
      rules,
      lines,
      out,
      now: PIPELINE_NOW,
      kinesisBatchSize: 1000,
      streamBatchSize: 1000,
      onProgress: (records) => options.onProgress?.("ours", records),
    });
    const text = await readFile(out, "utf8").catch(() => "");
    const notifications = text.split("\n").filter((line) => line.trim() !== "").length;

    const started = performance.now();
    const dynamoDb = await startDynamoDbLocal();
    let original: OriginalReplaySummary;
    let originalSeconds: number;
    try {
      original = await replayOriginalDesign({
        endpoint: dynamoDb.endpoint,
        rules,
        lines,
        ...(options.scanStride === undefined ? {} : { scanStride: options.scanStride }),
        onProgress: (records) => options.onProgress?.("original", records),
      });
      originalSeconds = (performance.now() - started) / 1000;
    } finally {
      await dynamoDb.stop();
    }

    const wallSeconds = ours.elapsedMs / 1000;
    return {
      result: {
        events,
        users,
        notifications,
        wallSeconds: roundTo(wallSeconds, 2),
        eventsPerSecond: Math.round(events / wallSeconds),
        ddb: costOf(ours.cost.dynamodb),
        sqs: { requests: ours.cost.sqs.requests },
        original: {
          ddb: costOf(original.cost),
          ruleLookups: original.ruleLookups,
          wallSeconds: roundTo(originalSeconds, 2),
        },
      },
      details: { ours, simulatedNotifications, original },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
