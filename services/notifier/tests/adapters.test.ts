import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  ProvisionedThroughputExceededException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import { SendMessageBatchCommand, type SendMessageBatchCommandInput, SQSClient } from "@aws-sdk/client-sqs";
import {
  BatchGetCommand,
  type BatchGetCommandInput,
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DynamoDBDocumentClient,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import type { RetryOptions } from "@pia/aws";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { buildDeadLetter } from "../src/adapters/buildDeadLetter.js";
import { buildDelivered, DeliveredTableError, ORDER_RETENTION_DAYS } from "../src/adapters/buildDelivered.js";
import type { DeadLetterInput } from "../src/ports.js";

const ddb = mockClient(DynamoDBDocumentClient);
const sqsMock = mockClient(SQSClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const sqs = new SQSClient({ region: "us-east-1" });

const TABLE = "pia-test-delivered";
const DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/pia-test-notifications-dlq";
/** 2024-03-15T10:30:00.123Z */
const NOW = Date.UTC(2024, 2, 15, 10, 30, 0, 123);

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

function delivered(options: RetryOptions = retry(), retentionDays = 14) {
  return buildDelivered(client, { tableName: TABLE, retentionDays, now: () => NOW, retry: options });
}

function ids(count: number): string[] {
  return Array.from({ length: count }, (_, n) => `fire-${n}`);
}

function keysOf(input: BatchGetCommandInput): unknown[] {
  return input.RequestItems?.[TABLE]?.Keys ?? [];
}

function putsOf(input: BatchWriteCommandInput): unknown[] {
  return (input.RequestItems?.[TABLE] ?? []).map((request) => request.PutRequest?.Item);
}

beforeEach(() => {
  ddb.reset();
  sqsMock.reset();
});

describe("buildDelivered: has", () => {
  it("reads the keys with a strongly consistent BatchGetItem and answers the ids found", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ pk: "fire-1" }] } });

    const found = await delivered().has(["fire-1", "fire-2"]);

    expect(found).toStrictEqual(new Set(["fire-1"]));
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        RequestItems: {
          [TABLE]: {
            Keys: [{ pk: "fire-1" }, { pk: "fire-2" }],
            ConsistentRead: true,
            ProjectionExpression: "pk",
          },
        },
      },
    ]);
  });

  it("asks for 100 keys a request, each key once", async () => {
    ddb.on(BatchGetCommand).resolves({});

    await delivered().has([...ids(250), "fire-3", "fire-7"]);

    const sizes = ddb.commandCalls(BatchGetCommand).map((call) => keysOf(call.args[0].input).length);
    expect(sizes).toStrictEqual([100, 100, 50]);
  });

  it("makes no request for no ids", async () => {
    expect(await delivered().has([])).toStrictEqual(new Set());
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
  });

  it("retries unprocessed keys and throttled requests after a jittered backoff", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [{ pk: "fire-0" }] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ pk: "fire-2" }] } },
      })
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }))
      .resolves({ Responses: { [TABLE]: [{ pk: "fire-2" }] } });
    const options = retry();

    expect(await delivered(options).has(ids(3))).toStrictEqual(new Set(["fire-0", "fire-2"]));
    expect(ddb.commandCalls(BatchGetCommand).map((call) => keysOf(call.args[0].input))).toStrictEqual([
      [{ pk: "fire-0" }, { pk: "fire-1" }, { pk: "fire-2" }],
      [{ pk: "fire-2" }],
      [{ pk: "fire-2" }],
    ]);
    expect(options.waits).toStrictEqual([25, 50]);
  });

  it("throws DeliveredTableError when keys stay unprocessed", async () => {
    ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ pk: "fire-1" }] } } });

    await expect(delivered(retry({ maxAttempts: 3 })).has(ids(2))).rejects.toThrow(DeliveredTableError);
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(3);
  });

  it("propagates an error that is not throttling without retrying", async () => {
    ddb.on(BatchGetCommand).rejects(new ResourceNotFoundException({ message: "no table", $metadata: {} }));
    const options = retry();

    await expect(delivered(options).has(ids(2))).rejects.toThrow("no table");
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(1);
    expect(options.waits).toStrictEqual([]);
  });
});

describe("buildDelivered: mark", () => {
  it("puts { pk, expiresAt } with the retention counted from now, 25 a request, each id once", async () => {
    ddb.on(BatchWriteCommand).resolves({});
    const expiresAt = Math.floor(NOW / 1000) + 30 * 86_400;

    await delivered(retry(), 30).mark([...ids(30), "fire-0"]);

    const calls = ddb.commandCalls(BatchWriteCommand).map((call) => putsOf(call.args[0].input));
    expect(calls.map((puts) => puts.length)).toStrictEqual([25, 5]);
    expect(calls[0]?.[0]).toStrictEqual({ pk: "fire-0", expiresAt });
    expect(calls.flat()).toStrictEqual(ids(30).map((pk) => ({ pk, expiresAt })));
  });

  it("retries the unprocessed items", async () => {
    const expiresAt = Math.floor(NOW / 1000) + 14 * 86_400;
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({
        UnprocessedItems: { [TABLE]: [{ PutRequest: { Item: { pk: "fire-1", expiresAt } } }] },
      })
      .resolves({});

    await delivered().mark(ids(3));

    expect(ddb.commandCalls(BatchWriteCommand).map((call) => putsOf(call.args[0].input))).toStrictEqual([
      ids(3).map((pk) => ({ pk, expiresAt })),
      [{ pk: "fire-1", expiresAt }],
    ]);
  });

  it("writes every chunk, then throws DeliveredTableError counting the ids left", async () => {
    ddb.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => ({
      UnprocessedItems: {
        [TABLE]: (input.RequestItems?.[TABLE] ?? []).filter(
          (request) => request.PutRequest?.Item?.pk === "fire-0",
        ),
      },
    }));

    await expect(delivered(retry({ maxAttempts: 2 })).mark(ids(40))).rejects.toThrow(
      /1 ids still unprocessed after the retries of the write/,
    );
    // Chunk 1: the request and one retry; chunk 2: one request.
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(3);
  });

  it("makes no request for no ids", async () => {
    await delivered().mark([]);
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });
});

describe("buildDelivered: highWater", () => {
  it("reads the streams' marks (order#<stream>) with a strongly consistent BatchGetItem", async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [{ pk: "order#s-1", seq: 4 }] } });

    const marks = await delivered().highWater(["s-1", "s-2", "s-1"]);

    expect(marks).toStrictEqual(new Map([["s-1", 4]]));
    expect(ddb.commandCalls(BatchGetCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        RequestItems: {
          [TABLE]: {
            Keys: [{ pk: "order#s-1" }, { pk: "order#s-2" }],
            ConsistentRead: true,
            ProjectionExpression: "pk, #seq",
            ExpressionAttributeNames: { "#seq": "seq" },
          },
        },
      },
    ]);
  });

  it("retries unprocessed streams, then throws DeliveredTableError", async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ UnprocessedKeys: { [TABLE]: { Keys: [{ pk: "order#s-2" }] } } })
      .resolves({ Responses: { [TABLE]: [{ pk: "order#s-2", seq: 1 }] } });

    expect(await delivered().highWater(["s-1", "s-2"])).toStrictEqual(new Map([["s-2", 1]]));
    expect(ddb.commandCalls(BatchGetCommand).map((call) => keysOf(call.args[0].input))).toStrictEqual([
      [{ pk: "order#s-1" }, { pk: "order#s-2" }],
      [{ pk: "order#s-2" }],
    ]);

    ddb.reset();
    ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ pk: "order#s-1" }] } } });
    await expect(delivered(retry({ maxAttempts: 2 })).highWater(["s-1"])).rejects.toThrow(
      /1 stream marks still unprocessed after the retries of the read/,
    );
  });

  it("makes no request for no streams", async () => {
    expect(await delivered().highWater([])).toStrictEqual(new Map());
    expect(ddb.commandCalls(BatchGetCommand)).toHaveLength(0);
  });
});

describe("buildDelivered: advance", () => {
  const expiresAt = Math.floor(NOW / 1000) + ORDER_RETENTION_DAYS * 86_400;

  it("raises the mark with a conditional UpdateItem (never backwards) and tells the mark was `from`", async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { seq: 2, expiresAt: 1 } });

    expect(await delivered().advance("s-1", 2, 3)).toBe(true);
    expect(ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        TableName: TABLE,
        Key: { pk: "order#s-1" },
        UpdateExpression: "SET #seq = :to, expiresAt = :expiresAt",
        ConditionExpression: "attribute_not_exists(#seq) OR #seq < :to",
        ExpressionAttributeNames: { "#seq": "seq" },
        ExpressionAttributeValues: { ":to": 3, ":expiresAt": expiresAt },
        ReturnValues: "UPDATED_OLD",
      },
    ]);
  });

  it("reads a stream without a mark as 0", async () => {
    ddb.on(UpdateCommand).resolves({});

    expect(await delivered().advance("s-1", 0, 1)).toBe(true);
    expect(await delivered().advance("s-1", 1, 2)).toBe(false);
  });

  it("answers false when the mark moved elsewhere: below `to` (raised) or already `to` or above (kept)", async () => {
    ddb
      .on(UpdateCommand)
      .resolvesOnce({ Attributes: { seq: 2 } })
      .rejectsOnce(
        new ConditionalCheckFailedException({ message: "The conditional request failed", $metadata: {} }),
      );

    expect(await delivered().advance("s-1", 1, 3)).toBe(false);
    expect(await delivered().advance("s-1", 1, 3)).toBe(false);
  });

  it("keeps marks for orderRetentionDays", async () => {
    ddb.on(UpdateCommand).resolves({});
    const marks = buildDelivered(client, {
      tableName: TABLE,
      retentionDays: 14,
      orderRetentionDays: 30,
      now: () => NOW,
      retry: retry(),
    });

    await marks.advance("s-1", 0, 1);

    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues?.[":expiresAt"]).toBe(
      Math.floor(NOW / 1000) + 30 * 86_400,
    );
  });

  it("retries a throttled update, and propagates other errors", async () => {
    ddb
      .on(UpdateCommand)
      .rejectsOnce(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }))
      .resolves({ Attributes: { seq: 1 } });
    const options = retry();

    expect(await delivered(options).advance("s-1", 1, 2)).toBe(true);
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(2);
    expect(options.waits).toStrictEqual([25]);

    ddb.reset();
    ddb.on(UpdateCommand).rejects(new ResourceNotFoundException({ message: "no table", $metadata: {} }));
    await expect(delivered().advance("s-1", 0, 1)).rejects.toThrow("no table");

    ddb.reset();
    ddb
      .on(UpdateCommand)
      .rejects(new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} }));
    await expect(delivered(retry({ maxAttempts: 2 })).advance("s-1", 0, 1)).rejects.toThrow(
      DeliveredTableError,
    );
  });
});

function letter(n: number, body = `body-${n}`): DeadLetterInput {
  return { messageId: `m-${n}`, body, kind: "invalid_message", reason: `reason ${n}` };
}

function entriesOf(input: SendMessageBatchCommandInput) {
  return input.Entries ?? [];
}

describe("buildDeadLetter", () => {
  it("sends the original body with the failure in message attributes", async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
    const permanent: DeadLetterInput = {
      messageId: "m-9",
      body: '{"id":"fire-9"}',
      kind: "permanent",
      reason: "the app does not exist",
      sink: "pinpoint",
    };

    expect(await buildDeadLetter(sqs, { queueUrl: DLQ })([letter(0), permanent])).toStrictEqual({
      unsent: [],
    });

    expect(sqsMock.commandCalls(SendMessageBatchCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        QueueUrl: DLQ,
        Entries: [
          {
            Id: "m0",
            MessageBody: "body-0",
            MessageAttributes: {
              piaFailure: { DataType: "String", StringValue: "invalid_message" },
              piaReason: { DataType: "String", StringValue: "reason 0" },
              piaSourceMessageId: { DataType: "String", StringValue: "m-0" },
            },
          },
          {
            Id: "m1",
            MessageBody: '{"id":"fire-9"}',
            MessageAttributes: {
              piaFailure: { DataType: "String", StringValue: "permanent" },
              piaReason: { DataType: "String", StringValue: "the app does not exist" },
              piaSourceMessageId: { DataType: "String", StringValue: "m-9" },
              piaSink: { DataType: "String", StringValue: "pinpoint" },
            },
          },
        ],
      },
    ]);
  });

  it("sends 10 entries a request, and at most 256 KiB", async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});
    const big = "x".repeat(100 * 1024);

    await buildDeadLetter(sqs, { queueUrl: DLQ })([
      ...Array.from({ length: 12 }, (_, n) => letter(n)),
      letter(20, big),
      letter(21, big),
      letter(22, big),
    ]);

    const sizes = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((call) => entriesOf(call.args[0].input).length);
    expect(sizes).toStrictEqual([10, 4, 1]);
  });

  it("answers the entries SQS refused, mapped back by entry id", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolves({ Failed: [{ Id: "m1", Code: "InternalError", SenderFault: false }] });

    expect(await buildDeadLetter(sqs, { queueUrl: DLQ })([letter(0), letter(1), letter(2)])).toStrictEqual({
      unsent: ["m-1"],
    });
  });

  it("answers every entry of a failed request as unsent while other requests went through", async () => {
    sqsMock.on(SendMessageBatchCommand).resolvesOnce({}).rejectsOnce(new Error("timeout"));

    const result = await buildDeadLetter(sqs, { queueUrl: DLQ })(
      Array.from({ length: 12 }, (_, n) => letter(n)),
    );

    expect(result).toStrictEqual({ unsent: ["m-10", "m-11"] });
  });

  it("throws when every request failed", async () => {
    sqsMock.on(SendMessageBatchCommand).rejects(Object.assign(new Error("denied"), { name: "AccessDenied" }));

    await expect(buildDeadLetter(sqs, { queueUrl: DLQ })([letter(0)])).rejects.toThrow("denied");
  });

  it("cuts long reasons", async () => {
    sqsMock.on(SendMessageBatchCommand).resolves({});

    await buildDeadLetter(sqs, { queueUrl: DLQ })([{ ...letter(0), reason: "r".repeat(5000) }]);

    const [call] = sqsMock.commandCalls(SendMessageBatchCommand);
    const attributes = call === undefined ? undefined : entriesOf(call.args[0].input)[0]?.MessageAttributes;
    expect(attributes?.piaReason?.StringValue).toHaveLength(1000);
  });
});
