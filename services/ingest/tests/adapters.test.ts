import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DynamoDBDocumentClient,
  PutCommand,
  type PutCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { batchWrite, type EventItem, type RetryOptions } from "@pia/aws";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { buildWriteEvents } from "../src/adapters/buildWriteEvents.js";
import { buildWriteQuarantine } from "../src/adapters/buildWriteQuarantine.js";

const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));

interface Item {
  pk: string;
  sk: string;
  n: number;
}

function items(count: number): Item[] {
  return Array.from({ length: count }, (_, n) => ({ pk: `user-${n % 3}`, sk: `event-${n}`, n }));
}

/** Records the waits instead of waiting; the jitter is fixed. */
function retry(overrides: RetryOptions = {}): RetryOptions & { waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  };
}

function putItems(input: BatchWriteCommandInput, table: string): unknown[] {
  return (input.RequestItems?.[table] ?? []).map((request) => request.PutRequest?.Item);
}

function sentItems(table: string): unknown[][] {
  return ddb.commandCalls(BatchWriteCommand).map((call) => putItems(call.args[0].input, table));
}

/** DynamoDB's answer leaving `left` unprocessed (copies, as the service sends them back). */
function leaving(table: string, left: readonly Item[]) {
  return {
    UnprocessedItems:
      left.length === 0 ? {} : { [table]: left.map((item) => ({ PutRequest: { Item: { ...item } } })) },
  };
}

beforeEach(() => {
  ddb.reset();
});

describe("batchWrite", () => {
  it.each([
    [1, [1]],
    [25, [25]],
    [26, [25, 1]],
    [60, [25, 25, 10]],
  ])("writes %i items in requests of %j", async (count, sizes) => {
    ddb.on(BatchWriteCommand).resolves({});
    const all = items(count);

    expect(await batchWrite(client, "events", all, retry())).toStrictEqual([]);
    expect(sentItems("events").map((sent) => sent.length)).toStrictEqual(sizes);
    expect(sentItems("events").flat()).toStrictEqual(all);
  });

  it("writes nothing for no items", async () => {
    expect(await batchWrite(client, "events", [], retry())).toStrictEqual([]);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it("retries only the unprocessed items, after a jittered backoff", async () => {
    const all = items(5);
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce(leaving("events", [all[1], all[3]] as Item[]))
      .resolvesOnce(leaving("events", [all[3]] as Item[]))
      .resolves({});
    const options = retry();

    expect(await batchWrite(client, "events", all, options)).toStrictEqual([]);
    expect(sentItems("events")).toStrictEqual([all, [all[1], all[3]], [all[3]]]);
    // Full jitter: random (0.5) x a cap that doubles from 50 ms.
    expect(options.waits).toStrictEqual([25, 50]);
  });

  it("gives up after maxAttempts and returns the caller's items still unprocessed", async () => {
    const all = items(35);
    ddb.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => ({
      UnprocessedItems: {
        events: (input.RequestItems?.events ?? []).filter((r) => r.PutRequest?.Item?.n % 10 === 0),
      },
    }));
    const options = retry({ maxAttempts: 4, random: () => 0.999 });

    const left = await batchWrite(client, "events", all, options);
    expect(left).toStrictEqual([all[0], all[10], all[20], all[30]]);
    expect(left[0]).toBe(all[0]);
    // Two chunks, each: 1 request + 3 retries, waits under caps of 50, 100, 200 ms.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(8);
    expect(options.waits.sort((a, b) => a - b)).toStrictEqual([49, 49, 99, 99, 199, 199]);
  });

  it("caps the backoff at maxDelayMs", async () => {
    ddb
      .on(BatchWriteCommand)
      .callsFake((input: BatchWriteCommandInput) => ({ UnprocessedItems: input.RequestItems }));
    const options = retry({ maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 300, random: () => 0.999 });

    expect(await batchWrite(client, "events", items(1), options)).toHaveLength(1);
    expect(options.waits).toStrictEqual([99, 199, 299, 299, 299]);
  });

  it("retries a throttled request like unprocessed items", async () => {
    const all = items(3);
    ddb
      .on(BatchWriteCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }))
      .rejectsOnce(Object.assign(new Error("rate"), { name: "ThrottlingException" }))
      .resolves({});
    const options = retry();

    expect(await batchWrite(client, "events", all, options)).toStrictEqual([]);
    expect(sentItems("events")).toStrictEqual([all, all, all]);
    expect(options.waits).toStrictEqual([25, 50]);
  });

  it("returns every item of a request that stays throttled", async () => {
    const all = items(2);
    ddb
      .on(BatchWriteCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: "x", $metadata: {} }));

    expect(await batchWrite(client, "events", all, retry({ maxAttempts: 3 }))).toStrictEqual(all);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(3);
  });

  it.each([
    [
      "a missing table",
      new ResourceNotFoundException({ message: "Requested resource not found", $metadata: {} }),
    ],
    [
      "a validation error",
      Object.assign(new Error("Item size has exceeded the maximum"), { name: "ValidationException" }),
    ],
    ["a network error", new Error("socket hang up")],
  ])("propagates %s without retrying", async (_case, error) => {
    ddb.on(BatchWriteCommand).rejects(error);
    const options = retry();

    await expect(batchWrite(client, "events", items(3), options)).rejects.toThrow(error.message);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(1);
    expect(options.waits).toStrictEqual([]);
  });
});

describe("buildWriteQuarantine", () => {
  it("puts into its own table with batchWrite", async () => {
    ddb
      .on(BatchWriteCommand)
      .resolves(leaving("pia-dev-quarantine", [{ pk: "user-1", sk: "event-1", n: 1 }]));
    const write = buildWriteQuarantine(client, {
      tableName: "pia-dev-quarantine",
      retry: retry({ maxAttempts: 1 }),
    }) as unknown as (items: readonly Item[]) => Promise<{ unprocessed: Item[] }>;
    const all = items(3);

    expect(await write(all)).toStrictEqual({ unprocessed: [all[1]] });
    expect(sentItems("pia-dev-quarantine")).toStrictEqual([all]);
  });
});

const EVENTS_TABLE = "pia-dev-events";

/** An event item of `user`, its `n`th event; `arrivedAt` and the metric say which write it came from. */
function eventItem(user: string, n: number, arrivedAt = 1_000, price = "1"): EventItem {
  return {
    pk: `6:app-1#${user}`,
    sk: `id:${user}-${n}`,
    appId: "app-1",
    userId: user,
    eventType: "purchase",
    ts: 1_000 + n,
    metrics: JSON.stringify([["price", price]]),
    expiresAt: 2_000_000_000,
    arrivedAt,
  };
}

/**
 * The events table behind the mock, honouring `attribute_not_exists(pk)` as DynamoDB does. `fail`
 * may answer a put with an error instead (before it is applied); `trace` lists each put's start
 * and end, by sort key. Each put takes a few ms, so puts of different users overlap when they run
 * at the same time.
 */
function eventsTable(fail: (input: PutCommandInput, attempt: number) => Error | undefined = () => undefined) {
  const stored = new Map<string, Record<string, unknown>>();
  const trace: string[] = [];
  const attempts = new Map<string, number>();
  ddb.on(PutCommand).callsFake(async (input: PutCommandInput) => {
    const item = input.Item as Record<string, unknown>;
    const key = `${item.pk}|${item.sk}`;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    trace.push(`start ${item.sk}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    trace.push(`end ${item.sk}`);
    const error = fail(input, attempt);
    if (error !== undefined) throw error;
    if (input.ConditionExpression === "attribute_not_exists(pk)" && stored.has(key)) {
      throw new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} });
    }
    stored.set(key, { ...item });
    return {};
  });
  return { stored, trace, attempts };
}

const throttled = () =>
  new ProvisionedThroughputExceededException({ message: "slow down", $metadata: { httpStatusCode: 400 } });

describe("buildWriteEvents", () => {
  it("puts each item with a conditional PutItem: written only if its key is not stored", async () => {
    const table = eventsTable();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: retry() });
    const all = [eventItem("ann", 1), eventItem("bob", 1)];

    expect(await write(all)).toStrictEqual({ unprocessed: [], alreadyStored: [] });
    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input)).toStrictEqual(
      all.map((item) => ({
        TableName: EVENTS_TABLE,
        Item: item,
        ConditionExpression: "attribute_not_exists(pk)",
      })),
    );
    expect([...table.stored.values()]).toStrictEqual(all);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it("leaves a stored item and its arrivedAt untouched on a redelivery, and reports it already stored", async () => {
    const table = eventsTable();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: retry() });
    const first = eventItem("ann", 1, 1_000, "1");
    await write([first]);

    // The same event again, later and with other content (a producer duplicate): the first wins.
    const again = eventItem("ann", 1, 9_000, "2");
    const next = eventItem("ann", 2, 9_000);
    expect(await write([again, next])).toStrictEqual({ unprocessed: [], alreadyStored: [again] });
    expect(table.stored.get(`${first.pk}|${first.sk}`)).toStrictEqual(first);
    expect(table.stored.get(`${next.pk}|${next.sk}`)).toStrictEqual(next);
  });

  it("retries a throttled put (and a server error) with the batch writes' jittered backoff", async () => {
    const table = eventsTable((_input, attempt) =>
      attempt === 1
        ? throttled()
        : attempt === 2
          ? Object.assign(new Error("rate"), { name: "ThrottlingException" })
          : attempt === 3
            ? Object.assign(new Error("internal"), {
                name: "InternalServerError",
                $metadata: { httpStatusCode: 500 },
              })
            : undefined,
    );
    const options = retry();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: options });
    const item = eventItem("ann", 1);

    expect(await write([item])).toStrictEqual({ unprocessed: [], alreadyStored: [] });
    expect(table.attempts.get(`${item.pk}|${item.sk}`)).toBe(4);
    expect(table.stored.size).toBe(1);
    // Full jitter: random (0.5) x a cap that doubles from 50 ms.
    expect(options.waits).toStrictEqual([25, 50, 100]);
  });

  it("returns a put still throttled after maxAttempts and every later item of its user, unsent", async () => {
    const table = eventsTable((input) =>
      (input.Item as EventItem).sk === "id:ann-2" ? throttled() : undefined,
    );
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: retry({ maxAttempts: 3 }) });
    const all = [
      eventItem("ann", 1),
      eventItem("bob", 1),
      eventItem("ann", 2),
      eventItem("bob", 2),
      eventItem("ann", 3),
    ];

    const result = await write(all);
    expect(result).toStrictEqual({ unprocessed: [all[2], all[4]], alreadyStored: [] });
    expect(result.unprocessed[0]).toBe(all[2]);
    expect(table.attempts.get(`${all[2]?.pk}|id:ann-2`)).toBe(3);
    // ann's third event is never sent: written before the second, it would reach the stream first.
    expect(table.attempts.has(`${all[4]?.pk}|id:ann-3`)).toBe(false);
    expect([...table.stored.keys()].sort()).toStrictEqual(
      [all[0], all[1], all[3]].map((item) => `${item?.pk}|${item?.sk}`).sort(),
    );
  });

  it("writes different users at the same time, each user's items one after another in input order", async () => {
    const table = eventsTable();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: retry() });

    await write([eventItem("ann", 1), eventItem("ann", 2), eventItem("bob", 1), eventItem("bob", 2)]);

    const at = (entry: string) => table.trace.indexOf(entry);
    // Each user's second put starts only after its first has finished...
    expect(at("start id:ann-2")).toBeGreaterThan(at("end id:ann-1"));
    expect(at("start id:bob-2")).toBeGreaterThan(at("end id:bob-1"));
    // ...while the two users' puts overlap.
    expect(at("start id:bob-1")).toBeLessThan(at("end id:ann-1"));
  });

  it("writes at most `concurrency` users at a time", async () => {
    const table = eventsTable();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: retry(), concurrency: 2 });

    await write(["ann", "bob", "cid", "dan", "eve"].map((user) => eventItem(user, 1)));

    let inFlight = 0;
    let most = 0;
    for (const entry of table.trace) {
      inFlight += entry.startsWith("start") ? 1 : -1;
      most = Math.max(most, inFlight);
    }
    expect(most).toBe(2);
    expect(table.stored.size).toBe(5);
  });

  it.each([
    ["access denied", Object.assign(new Error("not authorized"), { name: "AccessDeniedException" })],
    [
      "a missing table",
      new ResourceNotFoundException({ message: "Requested resource not found", $metadata: {} }),
    ],
  ])("throws %s without retrying", async (_case, error) => {
    eventsTable(() => error);
    const options = retry();
    const write = buildWriteEvents(client, { tableName: EVENTS_TABLE, retry: options });

    await expect(write([eventItem("ann", 1), eventItem("ann", 2)])).rejects.toBe(error);
    expect(ddb.commandCalls(PutCommand)).toHaveLength(1);
    expect(options.waits).toStrictEqual([]);
  });
});
