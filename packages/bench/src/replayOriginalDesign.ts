import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type CompiledRule,
  compileRule,
  matchesEvent,
  metricText,
  type PiaEvent,
  parseRecord,
  type Rule,
} from "@pia/core";
// The very counter `runLocalPipeline` puts on the pipeline's clients, so both designs are counted alike.
import { emptyTally, type RequestTally, tallyDynamoDb } from "@pia/local-runtime";
import { createOriginalTables, type OriginalTables } from "./createOriginalTables.js";

export interface OriginalReplayOptions {
  /** A DynamoDB Local endpoint; the replay creates its own tables there. */
  readonly endpoint: string;
  readonly rules: readonly Rule[];
  /** Raw records, one Pinpoint event-stream JSON each, in arrival order. */
  readonly lines: AsyncIterable<string> | Iterable<string>;
  /** Table name prefix (default `original`). */
  readonly tablePrefix?: string;
  /** Users replayed at once; each user's events stay in order (default 16). */
  readonly concurrency?: number;
  /**
   * Every hourly run scans the whole time-series table. A Scan is really run at least every
   * `scanStride` runs; the runs between are charged the last real Scan's measured requests and read
   * units (default 24: one real Scan per simulated day). With 1 the counts are exact: a run is
   * only charged when no event arrived since the last real Scan, over the very same table.
   */
  readonly scanStride?: number;
  /** Called with the number of records read so far. */
  readonly onProgress?: (records: number) => void;
}

export interface OriginalReplaySummary {
  readonly records: number;
  /** Custom events with a user: what the original's aggregator Lambda went through. */
  readonly processed: number;
  /** Of those, the ones that matched a lifetime rule and so updated the aggregate table. */
  readonly aggregated: number;
  /** Honeycode reads of the rules table: two per processed event. */
  readonly ruleLookups: number;
  /** Hourly runs of the time-series Lambda over the event time the input spans (0 without window rules). */
  readonly hourlyRuns: number;
  /** Of those, the ones whose Scan was really run (the others are charged the last one's cost). */
  readonly scansRun: number;
  /** Everything, hourly scans included, as `tallyDynamoDb` counts it. */
  readonly cost: RequestTally["dynamodb"];
  /** The hourly scans' share of `cost`. */
  readonly scanCost: { readonly requests: number; readonly readUnits: number };
  readonly tables: OriginalTables;
}

const HOUR_MS = 3_600_000;
const FLUSH_AT = 1_000;
const LOCAL = { region: "us-east-1", credentials: { accessKeyId: "local", secretAccessKey: "local" } };

/**
 * Replays records through a model of the original design (the 2021 AWS sample: Python Lambdas,
 * Honeycode rules, two DynamoDB tables), counting its DynamoDB requests and capacity units with the
 * same middleware as the pipeline. Per custom event with a user, as the original did:
 *
 * - the rules are read from Honeycode twice (counted in `ruleLookups`, no DynamoDB cost);
 * - one PutItem of the event into the time-series table (it kept every event, forever);
 * - if the event matches a lifetime rule (the original applied only the last matching one):
 *   one GetItem of the user's aggregate, three UpdateItems (count, sum, status flag) and two
 *   GetItems to evaluate the rule (eventually consistent reads, boto3's default).
 *
 * Window rules were decided by a second Lambda every 60 minutes from a full Scan of the
 * time-series table: with any window rule, one paginated Scan per hour of event time the input
 * spans (the hour of the first event to the hour of the last, both included), interleaved with
 * the events in arrival order. Records the original could not process (malformed, without a user)
 * blocked its shard; here they are skipped at no cost, as are system and `trk_` events.
 */
export async function replayOriginalDesign(options: OriginalReplayOptions): Promise<OriginalReplaySummary> {
  const admin = new DynamoDBClient({ ...LOCAL, endpoint: options.endpoint });
  const client = new DynamoDBClient({ ...LOCAL, endpoint: options.endpoint });
  const tally = emptyTally();
  tallyDynamoDb(client, tally);
  try {
    const tables = await createOriginalTables(admin, options.tablePrefix ?? "original");
    const lifetime = options.rules
      .filter((rule) => rule.enabled && rule.window === undefined)
      .map(compileRule);
    const scheduled = options.rules.some((rule) => rule.enabled && rule.window !== undefined);
    const concurrency = options.concurrency ?? 16;
    const stride = options.scanStride ?? 24;
    const counts = { records: 0, processed: 0, aggregated: 0, ruleLookups: 0, hourlyRuns: 0, scansRun: 0 };
    const scanCost = { requests: 0, readUnits: 0 };
    let lastScan = { requests: 0, readUnits: 0 };
    let pending: PiaEvent[] = [];

    const flush = async () => {
      const events = pending;
      pending = [];
      const byUser = new Map<string, PiaEvent[]>();
      for (const event of events) {
        const list = byUser.get(event.userId);
        if (list === undefined) byUser.set(event.userId, [event]);
        else list.push(event);
      }
      const queue = [...byUser.values()];
      const worker = async () => {
        for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
          for (const event of next) {
            if (await processEvent(client, tables, lifetime, event)) counts.aggregated++;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      options.onProgress?.(counts.records);
    };

    /** `runs` hourly runs over an unchanged table: one real Scan if a stride point falls among them. */
    const runSchedule = async (runs: number) => {
      const first = counts.hourlyRuns;
      counts.hourlyRuns += runs;
      let charged = runs;
      if (Math.ceil(first / stride) * stride < first + runs) {
        await flush();
        const before = { requests: tally.dynamodb.requests, readUnits: tally.dynamodb.readUnits };
        await scanTable(client, tables.timeseries);
        lastScan = {
          requests: tally.dynamodb.requests - before.requests,
          readUnits: tally.dynamodb.readUnits - before.readUnits,
        };
        counts.scansRun++;
        scanCost.requests += lastScan.requests;
        scanCost.readUnits += lastScan.readUnits;
        charged--;
      }
      tally.dynamodb.requests += charged * lastScan.requests;
      tally.dynamodb.readUnits += charged * lastScan.readUnits;
      tally.dynamodb.byCommand.ScanCommand =
        (tally.dynamodb.byCommand.ScanCommand ?? 0) + charged * lastScan.requests;
      scanCost.requests += charged * lastScan.requests;
      scanCost.readUnits += charged * lastScan.readUnits;
    };

    let hour: number | undefined;
    for await (const line of options.lines) {
      if (line.trim() === "") continue;
      counts.records++;
      const outcome = parseRecord(line);
      if (outcome.kind !== "event") continue;
      counts.processed++;
      counts.ruleLookups += 2;
      const eventHour = Math.floor(outcome.event.timestamp / HOUR_MS);
      hour ??= eventHour;
      // The clock has passed the end of `hour`: the runs at the ends of the hours in between happen
      // before this event is handled (events that arrive late for their hour go to a later run).
      if (scheduled && eventHour > hour) await runSchedule(eventHour - hour);
      hour = Math.max(hour, eventHour);
      pending.push(outcome.event);
      if (pending.length >= FLUSH_AT) await flush();
    }
    await flush();
    if (scheduled && hour !== undefined) await runSchedule(1);
    return { ...counts, cost: tally.dynamodb, scanCost, tables };
  } finally {
    admin.destroy();
    client.destroy();
  }
}

/** The original's per-event work; true when the event updated the aggregate table. */
async function processEvent(
  client: DynamoDBClient,
  tables: OriginalTables,
  lifetime: readonly CompiledRule[],
  event: PiaEvent,
): Promise<boolean> {
  await client.send(
    new PutItemCommand({
      TableName: tables.timeseries,
      Item: {
        eventname: { S: event.eventType },
        dateuserid: { S: `${new Date(event.timestamp).toISOString()}#${event.userId}` },
        userid: { S: event.userId },
        appid: { S: event.appId },
        attributes: {
          M: Object.fromEntries(Object.entries(event.attributes).map(([k, v]) => [k, { S: v }])),
        },
        metrics: { M: Object.fromEntries(event.metrics.map(([k, v]) => [k, { N: v }])) },
      },
    }),
  );
  const rule = lifetime.findLast((compiled) => matchesEvent(compiled, event));
  if (rule === undefined) return false;
  const key: Record<string, AttributeValue> = { useridtaskname: { S: `${event.userId}${rule.rule.id}` } };
  const update = (expression: string, values: Record<string, AttributeValue>) =>
    client.send(
      new UpdateItemCommand({
        TableName: tables.aggregate,
        Key: key,
        UpdateExpression: expression,
        ExpressionAttributeValues: values,
      }),
    );
  const get = (projection?: string) =>
    client.send(
      new GetItemCommand({
        TableName: tables.aggregate,
        Key: key,
        ...(projection === undefined ? {} : { ProjectionExpression: projection }),
      }),
    );
  await get();
  await update("ADD eventcount :one", { ":one": { N: "1" } });
  await update("ADD metricsum :value", { ":value": { N: metricText(rule, event) ?? "0" } });
  await update("SET taskstatus = :status", { ":status": { S: "Processing" } });
  await get("eventcount");
  await get("metricsum");
  return true;
}

/** A full Scan, page by page. `COUNT` reads and bills the same pages as fetching the items. */
async function scanTable(client: DynamoDBClient, table: string): Promise<void> {
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        Select: "COUNT",
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    );
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
}
