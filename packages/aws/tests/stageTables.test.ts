import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { toEventItem, userKey } from "../src/eventItem.js";
import { buildStageReader } from "../src/stageTables.js";

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(doc);
const TABLES = { rules: "pia-dev-rules", events: "pia-dev-events", counters: "pia-dev-counters" };

const item = (n: number) =>
  toEventItem(
    {
      appId: "app",
      userId: "u#1",
      eventType: "pageview",
      timestamp: Date.UTC(2026, 0, 1) + n,
      identity: `id-${n}`,
      attributes: {},
      metrics: [],
    },
    0,
  );

beforeEach(() => mock.reset());

describe("the stage reader of pia explain --stage", () => {
  it("queries the user's partition page by page, keeps what is not an event out, and says so", async () => {
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [item(1), item(2)], LastEvaluatedKey: { pk: "k", sk: "2" } })
      .resolvesOnce({ Items: [item(3), { pk: "x", sk: "y" }] });
    const read = await buildStageReader(doc, TABLES).userEvents("app", "u#1", 100);
    expect(read.events.map((e) => e.identity)).toEqual(["id-1", "id-2", "id-3"]);
    expect(read).toMatchObject({ unreadable: 1, truncated: false });
    const calls = mock.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(calls[0]).toMatchObject({
      TableName: "pia-dev-events",
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": userKey("app", "u#1") },
    });
    expect(calls[1]?.ExclusiveStartKey).toEqual({ pk: "k", sk: "2" });
  });

  it("stops at the limit and says the read was cut", async () => {
    mock.on(QueryCommand).resolves({ Items: [item(1), item(2)], LastEvaluatedKey: { pk: "k", sk: "2" } });
    const read = await buildStageReader(doc, TABLES).userEvents("app", "u#1", 2);
    expect(read.truncated).toBe(true);
    expect(mock.commandCalls(QueryCommand)).toHaveLength(1);
    expect(mock.commandCalls(QueryCommand)[0]?.args[0].input.Limit).toBe(2);
  });

  it("reads the counter at the user's key and the rule's counter key, consistently", async () => {
    mock.on(GetCommand).resolves({ Item: { count: 2 } });
    expect(await buildStageReader(doc, TABLES).storedCounter("app", "u#1", "rule#abc")).toEqual({ count: 2 });
    expect(mock.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: "pia-dev-counters",
      Key: { pk: userKey("app", "u#1"), sk: "rule#abc" },
      ConsistentRead: true,
    });
  });
});
