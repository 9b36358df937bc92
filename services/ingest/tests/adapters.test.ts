import {
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DynamoDBDocumentClient,
} from "@aws-sdk/lib-dynamodb";
import { batchWrite, type RetryOptions } from "@pia/aws";
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

describe("buildWriteEvents and buildWriteQuarantine", () => {
  it.each([
    ["events", buildWriteEvents],
    ["quarantine", buildWriteQuarantine],
  ] as const)("put into their own table (%s)", async (_table, build) => {
    ddb.on(BatchWriteCommand).resolves(leaving("pia-dev-table", [{ pk: "user-1", sk: "event-1", n: 1 }]));
    const write = build(client, {
      tableName: "pia-dev-table",
      retry: retry({ maxAttempts: 1 }),
    }) as unknown as (items: readonly Item[]) => Promise<{ unprocessed: Item[] }>;
    const all = items(3);

    expect(await write(all)).toStrictEqual({ unprocessed: [all[1]] });
    expect(sentItems("pia-dev-table")).toStrictEqual([all]);
  });
});
