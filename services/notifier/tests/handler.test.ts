import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { lambdaContext } from "@pia/aws";
import { emfEntries } from "@pia/aws/testing";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildNotifyHandler, FINISH_RESERVE_MS } from "../src/buildNotifyHandler.js";
import type { DeliverOptions, Sink } from "../src/ports.js";
import { input } from "./fixtures.js";

const ddb = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);

const DELIVERED_TABLE = "pia-test-delivered";
const DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/pia-test-notifications-dlq";

/** An SQS record as Lambda delivers it. */
function sqsRecord(messageId: string, body: string): SQSRecord {
  return {
    messageId,
    receiptHandle: `receipt-${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: "1710498600000",
      SenderId: "AIDAEXAMPLE",
      ApproximateFirstReceiveTimestamp: "1710498600100",
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:pia-test-notifications",
    awsRegion: "us-east-1",
  };
}

function event(...records: Array<[string, string]>): SQSEvent {
  return { Records: records.map(([messageId, body]) => sqsRecord(messageId, body)) };
}

const context = lambdaContext("pia-notifier", "req-1");

async function loadHandler() {
  return (await import("../src/handlers/notify.js")).handler;
}

let dir: string;
let path: string;
let output: string[];
/** The delivered table behind the mocked DynamoDB client. */
let table: Set<string>;

beforeEach(async () => {
  vi.resetModules();
  ddb.reset();
  sqsMock.reset();
  dir = await mkdtemp(join(tmpdir(), "pia-notifier-"));
  path = join(dir, "out", "notifications.ndjson");
  const env = {
    AWS_REGION: "us-east-1",
    FILE_SINK_PATH: path,
    DELIVERED_TABLE,
    DEAD_LETTER_QUEUE_URL: DLQ,
    POWERTOOLS_LOGGER_LOG_EVENT: "true",
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  table = new Set();
  ddb.on(BatchGetCommand).callsFake((request) => {
    const keys: Array<{ pk: string }> = request.RequestItems[DELIVERED_TABLE].Keys;
    return { Responses: { [DELIVERED_TABLE]: keys.filter(({ pk }) => table.has(pk)) } };
  });
  ddb.on(BatchWriteCommand).callsFake((request) => {
    for (const put of request.RequestItems[DELIVERED_TABLE]) table.add(put.PutRequest.Item.pk);
    return {};
  });
  sqsMock.on(SendMessageBatchCommand).resolves({});
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
  }
});

afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

describe("notify handler", () => {
  it("writes each notification once to the file, also when a batch is redelivered to a new container", async () => {
    const first = input("m-1", "fire-1", "user-a");
    const second = input("m-2", "fire-2", "user-b");

    const response = await (await loadHandler())(
      event([first.messageId, first.body], [second.messageId, second.body]),
      context,
    );
    vi.resetModules();
    const again = await (await loadHandler())(event([first.messageId, first.body]), context);

    expect(response).toStrictEqual({ batchItemFailures: [] });
    expect(again).toStrictEqual({ batchItemFailures: [] });
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    expect(lines.map((line) => JSON.parse(line).userId)).toStrictEqual(["user-a", "user-b"]);
    expect(table).toStrictEqual(new Set(["fire-1", "fire-2"]));
  });

  it("sends an invalid body to the dead-letter queue and logs counts, never user ids or bodies", async () => {
    const good = input("m-1", "fire-1", "secret-user-7");
    const bad = '{"id":"fire-x","notification":{"userId":"secret-user-8"}}';

    const response = await (await loadHandler())(event([good.messageId, good.body], ["m-bad", bad]), context);

    expect(response).toStrictEqual({ batchItemFailures: [] });
    const sent = sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input);
    expect(sent).toMatchObject([{ QueueUrl: DLQ, Entries: [{ MessageBody: bad }] }]);
    const entries = output
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "batch notified",
        sink: "file",
        counts: expect.objectContaining({ messages: 2, delivered: 1, invalid: 1 }),
        function_request_id: "req-1",
      }),
    );
    // POWERTOOLS_LOGGER_LOG_EVENT=true is set: the event is still not logged.
    expect(output.join("")).not.toContain("secret-user");
  });

  it("publishes CloudWatch metrics (EMF): deliveries by rule", async () => {
    const first = input("m-1", "fire-1");

    await (await loadHandler())(event([first.messageId, first.body]), context);

    const emf = emfEntries(output);
    expect(emf).toContainEqual(
      expect.objectContaining({ service: "pia-notifier", NotificationsDelivered: 1 }),
    );
    expect(emf).toContainEqual(expect.objectContaining({ ruleId: "big-spender", NotificationsDelivered: 1 }));
  });

  it("gives the sink a deadline from the Lambda context's remaining time, less what it needs to finish", async () => {
    const NOW = 1_700_000_000_000;
    const seen: Array<DeliverOptions | undefined> = [];
    const sink: Sink = {
      name: "file",
      deliver: async (batch, options) => {
        seen.push(options);
        return batch.map(({ id }) => ({ id, status: "retry", error: "out of time", deferred: true }));
      },
    };
    const notify = buildNotifyHandler({
      config: {
        sink: { name: "file", path },
        sinks: [{ name: "file", path }],
        deliveredTable: DELIVERED_TABLE,
        deliveredRetentionDays: 14,
        deadLetterQueueUrl: DLQ,
      },
      dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" })),
      sqs: new SQSClient({ region: "us-east-1" }),
      logger: new Logger({ serviceName: "pia-notifier" }),
      sink,
      now: () => NOW,
    });
    const first = input("m-1", "fire-1");
    const last = { ...sqsRecord("m-2", input("m-2", "fire-2").body) };
    last.attributes = { ...last.attributes, ApproximateReceiveCount: "5" };

    const response = await notify(
      { Records: [sqsRecord(first.messageId, first.body), last] },
      { ...context, getRemainingTimeInMillis: () => 9_000 },
    );

    expect(seen).toStrictEqual([{ deadline: NOW + 9_000 - FINISH_RESERVE_MS }]);
    // Handed back to the queue, the last receive included: nothing goes to the dead-letter queue.
    expect(response).toStrictEqual({
      batchItemFailures: [{ itemIdentifier: "m-1" }, { itemIdentifier: "m-2" }],
    });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
  });

  it("fails the cold start with a ConfigError naming a missing variable", async () => {
    vi.stubEnv("DELIVERED_TABLE", undefined);

    await expect(loadHandler()).rejects.toMatchObject({
      name: "ConfigError",
      message: expect.stringMatching(/DELIVERED_TABLE is not set/),
    });
  });
});
