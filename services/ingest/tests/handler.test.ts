import {
  ConditionalCheckFailedException,
  ProvisionedThroughputExceededException,
} from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  PutCommand,
  type PutCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { lambdaContext } from "@pia/aws";
import { emfEntries } from "@pia/aws/testing";

import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { base64, pinpointEvent } from "./fixtures.js";

const ddb = mockClient(DynamoDBDocumentClient);

const ENV = {
  AWS_REGION: "us-east-1",
  EVENTS_TABLE: "pia-test-events",
  QUARANTINE_TABLE: "pia-test-quarantine",
  POWERTOOLS_LOGGER_LOG_EVENT: "true",
};

/** A Kinesis record as Lambda delivers it (arrival in epoch seconds). */
function kinesisRecord(sequenceNumber: string, payload: string): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: "pk",
      sequenceNumber,
      data: base64(payload),
      approximateArrivalTimestamp: 1710498599.25,
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `shardId-000000000000:${sequenceNumber}`,
    eventName: "aws:kinesis:record",
    invokeIdentityArn: "arn:aws:iam::123456789012:role/ingest",
    awsRegion: "us-east-1",
    eventSourceARN: "arn:aws:kinesis:us-east-1:123456789012:stream/pinpoint-events",
  };
}

const context = lambdaContext("pia-ingest", "req-1");

async function loadHandler() {
  return (await import("../src/handlers/ingest.js")).handler;
}

let output: string[];

beforeEach(() => {
  vi.resetModules();
  ddb.reset();
  for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
  // No real backoff waits: full jitter with random() = 0 waits 0 ms.
  vi.spyOn(Math, "random").mockReturnValue(0);
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
  }
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("ingest handler", () => {
  it("writes a Kinesis batch and reports the records left unwritten", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
      // user-b's event is throttled on every attempt: never written.
      if (input.Item?.userId === "user-b") {
        throw new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} });
      }
      return {};
    });
    const handler = await loadHandler();

    const event: KinesisStreamEvent = {
      Records: [
        kinesisRecord("1", JSON.stringify(pinpointEvent({ endpoint: { User: { UserId: "user-a" } } }))),
        kinesisRecord("2", "{ not json"),
        kinesisRecord("3", JSON.stringify(pinpointEvent({ endpoint: { User: { UserId: "user-b" } } }))),
        kinesisRecord("4", JSON.stringify(pinpointEvent({ event_type: "_session.start" }))),
      ],
    };
    const response = await handler(event, context);

    expect(response).toStrictEqual({ batchItemFailures: [{ itemIdentifier: "3" }] });
    const calls = ddb.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems ?? {});
    const quarantine = calls.flatMap((items) => items[ENV.QUARANTINE_TABLE] ?? []);
    expect(quarantine).toMatchObject([
      {
        PutRequest: {
          Item: { reason: "bad_json", raw: "{ not json", arrivedAt: "2024-03-15T10:29:59.250Z" },
        },
      },
    ]);
    expect(calls.flatMap((items) => items[ENV.EVENTS_TABLE] ?? [])).toStrictEqual([]);
    const eventPuts = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(eventPuts.map(({ TableName }) => TableName)).toContain(ENV.EVENTS_TABLE);
    expect(eventPuts.map(({ Item }) => Item?.userId)).toContain("user-a");
    // user-b's put: the first attempt and the retries of the default RetryOptions (8 in all).
    expect(eventPuts.filter(({ Item }) => Item?.userId === "user-b")).toHaveLength(8);
  });

  it("keeps an event's first item and arrival stamp when a later batch redelivers it, counting a duplicate", async () => {
    const stored = new Map<string, Record<string, unknown>>();
    ddb.on(PutCommand).callsFake((input: PutCommandInput) => {
      const key = `${input.Item?.pk}|${input.Item?.sk}`;
      if (input.ConditionExpression === "attribute_not_exists(pk)" && stored.has(key)) {
        throw new ConditionalCheckFailedException({
          message: "The conditional request failed",
          $metadata: {},
        });
      }
      stored.set(key, { ...input.Item });
      return {};
    });
    const first = Date.UTC(2024, 2, 15, 10, 30);
    const clock = vi.spyOn(Date, "now").mockReturnValue(first);
    const handler = await loadHandler();
    const delivery = (price: number) => ({
      Records: [kinesisRecord("1", JSON.stringify(pinpointEvent({ event_id: "evt-1", metrics: { price } })))],
    });

    await handler(delivery(1), context);
    clock.mockReturnValue(first + 60_000);
    const response = await handler(delivery(2), context);

    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect([...stored.values()]).toMatchObject([
      { sk: "id:evt-1", metrics: '[["price","1"]]', arrivedAt: first },
    ]);
    const counts = output
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.message === "batch ingested")
      .map((entry) => entry.counts);
    expect(counts).toMatchObject([
      { applied: 1, duplicate: 0 },
      { applied: 0, duplicate: 1, failed: 0 },
    ]);
  });

  it("logs the counts of the batch as JSON, never user ids or payloads", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const handler = await loadHandler();

    const records = [
      kinesisRecord("1", JSON.stringify(pinpointEvent({ endpoint: { User: { UserId: "secret-user-7" } } }))),
      kinesisRecord("2", '{"secret-payload": 1'),
    ];
    await handler({ Records: records }, context);

    const lines = output.join("").trim().split("\n");
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "batch ingested",
        counts: expect.objectContaining({
          records: 2,
          applied: 1,
          skipped: expect.objectContaining({ bad_json: 1 }),
        }),
        function_request_id: "req-1",
      }),
    );
    // POWERTOOLS_LOGGER_LOG_EVENT=true is set: the event, base64 payloads included, is still not logged.
    for (const secret of ["secret-user-7", "secret-payload", ...records.map(({ kinesis }) => kinesis.data)]) {
      expect(output.join("")).not.toContain(secret);
    }
  });

  it("publishes the counts as CloudWatch metrics (EMF), skipped records by reason", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const handler = await loadHandler();

    await handler(
      {
        Records: [
          kinesisRecord("1", JSON.stringify(pinpointEvent())),
          kinesisRecord("2", "{ not json"),
          kinesisRecord("3", "[]"),
        ],
      },
      context,
    );

    const emf = emfEntries(output);
    expect(emf).toContainEqual(
      expect.objectContaining({ service: "pia-ingest", EventsIn: 3, EventsApplied: 1, EventsSkipped: 2 }),
    );
    expect(emf).toContainEqual(expect.objectContaining({ reason: "bad_json", EventsSkipped: 1 }));
    expect(emf).toContainEqual(expect.objectContaining({ reason: "bad_event", EventsSkipped: 1 }));
    const namespaces = emf.flatMap((entry) =>
      (entry._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics.map(
        (set) => set.Namespace,
      ),
    );
    expect(new Set(namespaces)).toStrictEqual(new Set(["pia"]));
  });

  it.each([
    ["unset", undefined, undefined],
    ["true", "true", "purchase#2024-03-14"],
  ])("writes the byTypeDay key with PREVIEW_INDEX %s", async (_case, flag, typeDay) => {
    if (flag !== undefined) vi.stubEnv("PREVIEW_INDEX", flag);
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const handler = await loadHandler();

    await handler({ Records: [kinesisRecord("1", JSON.stringify(pinpointEvent()))] }, context);

    const [item] = ddb.commandCalls(PutCommand).map((call) => call.args[0].input.Item);
    expect(item).toMatchObject({ eventType: "purchase" });
    expect(item?.typeDay).toBe(typeDay);
  });

  it("fails the cold start with a ConfigError naming a missing variable", async () => {
    vi.stubEnv("EVENTS_TABLE", undefined);

    await expect(loadHandler()).rejects.toMatchObject({
      name: "ConfigError",
      message: expect.stringMatching(/EVENTS_TABLE is not set/),
    });
  });
});
