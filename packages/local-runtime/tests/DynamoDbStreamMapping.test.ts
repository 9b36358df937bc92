import { DeleteItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { DEFAULTS } from "@pia/aws";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchResponse, EventFilterPattern } from "../src/index.js";
import { DynamoDbStreamMapping, parseEventFilter } from "../src/index.js";

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ prefix: "stream" });
});
afterAll(() => stack?.stop());

/** A mapping on the events table's stream whose fake handler lists what it was handed. */
function streamMapping(filters: readonly EventFilterPattern[]) {
  const seen: string[] = [];
  const handler = async (event: DynamoDBStreamEvent): Promise<BatchResponse> => {
    for (const record of event.Records)
      seen.push(`${record.eventName} ${record.dynamodb?.Keys?.sk?.S ?? "?"}`);
    return { batchItemFailures: [] };
  };
  const mapping = new DynamoDbStreamMapping({
    handler,
    functionName: "aggregate",
    region: stack.region,
    streams: stack.clients.streams,
    dynamodb: stack.clients.dynamodb,
    tableName: stack.tableNames.events,
    streamArn: stack.streamArns.events as string,
    batchSize: 100,
    maximumRetryAttempts: 2,
    filters,
  });
  return { mapping, seen };
}

const put = (sk: string, value: string) =>
  stack.clients.dynamodb.send(
    new PutItemCommand({
      TableName: stack.tableNames.events,
      Item: { pk: { S: "app#u1" }, sk: { S: sk }, value: { S: value } },
    }),
  );

describe("the events table's stream mapping", () => {
  it("hands aggregate new events only, as the aggregate function's FilterCriteria does, and reads on from where it stopped", async () => {
    const filtered = streamMapping([parseEventFilter(DEFAULTS.aggregate.streamFilterPattern)]);
    await put("e1", "first");
    await put("e1", "rewritten with other content");
    await stack.clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: stack.tableNames.events,
        Key: { pk: { S: "app#u1" }, sk: { S: "e1" } },
      }),
    );
    await filtered.mapping.drain();
    expect(filtered.seen).toEqual(["INSERT e1"]);

    await put("e2", "later");
    await filtered.mapping.drain();
    expect(filtered.seen).toEqual(["INSERT e1", "INSERT e2"]);

    // The same stream unfiltered: the rewrite and the deletion were there to be filtered out.
    const unfiltered = streamMapping([]);
    await unfiltered.mapping.drain();
    expect(unfiltered.seen).toEqual(["INSERT e1", "MODIFY e1", "REMOVE e1", "INSERT e2"]);
  });
});
