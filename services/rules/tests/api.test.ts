import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { toEventItem, userKey } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey } from "@pia/core";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { apiEvent, context, type EventOptions, USER_ARN } from "./events.js";

const ddb = mockClient(DynamoDBDocumentClient);
const TABLE = "pia-test-rules";

const RULE: Rule = {
  id: "views",
  event: "pageview",
  count: { op: ">", value: 3 },
  action: { type: "attribute", name: "views", value: "Ready" },
  reset: false,
  enabled: true,
};

async function loadHandler() {
  return (await import("../src/handlers/api.js")).handler;
}

async function call(method: string, path: string, options: EventOptions = {}) {
  const result = await (await loadHandler())(apiEvent(method, path, options), context);
  return { status: result.statusCode, body: result.body === undefined ? undefined : JSON.parse(result.body) };
}

beforeEach(() => {
  vi.resetModules();
  ddb.reset();
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("RULES_TABLE", TABLE);
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
  vi.useFakeTimers({ now: Date.UTC(2030, 0, 2, 3, 4, 5), toFake: ["Date"] });
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe("the Lambda entry (handlers/api.ts)", () => {
  it("fails its cold start with a ConfigError naming RULES_TABLE", async () => {
    vi.stubEnv("RULES_TABLE", "");
    await expect(loadHandler()).rejects.toThrow(/RULES_TABLE is not set/);
  });

  it("reads a rule with consistent reads of its item and its last version", async () => {
    // The rule's item; no other item (the rule's counting has no backfill).
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: { pk: "rule", sk: "views" } }).resolves({
      Item: { pk: "rule", sk: "views", rule: JSON.stringify(RULE), counterKey: counterKey(RULE), version: 4 },
    });
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await call("GET", "/rules/views")).toMatchObject({
      status: 200,
      body: { rule: RULE, version: 4 },
    });
    expect(ddb.commandCalls(GetCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: "rule", sk: "views" },
      ConsistentRead: true,
    });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": "version#views" },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    });
  });

  it("writes an update as one transaction, conditional on the version read", async () => {
    // The rule's item; no other item (the rule's counting has no backfill).
    ddb.on(GetCommand).resolves({});
    ddb.on(GetCommand, { Key: { pk: "rule", sk: "views" } }).resolves({
      Item: { pk: "rule", sk: "views", rule: JSON.stringify(RULE), counterKey: counterKey(RULE), version: 4 },
    });
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(TransactWriteCommand).resolves({});
    const edited: Rule = { ...RULE, event: "click" };
    expect((await call("PUT", "/rules/views", { body: edited, headers: { "if-match": '"4"' } })).status).toBe(
      200,
    );
    const at = "2030-01-02T03:04:05.000Z";
    expect(ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input).toEqual({
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: "rule",
              sk: "views",
              rule: JSON.stringify(edited),
              counterKey: counterKey(edited),
              updatedAt: at,
              updatedBy: USER_ARN,
              version: 5,
            },
            ConditionExpression: "#version = :version",
            ExpressionAttributeNames: { "#version": "version" },
            ExpressionAttributeValues: { ":version": 4 },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: "version#views",
              sk: "0000000005",
              ruleId: "views",
              version: 5,
              change: "update",
              at,
              by: USER_ARN,
              before: JSON.stringify(RULE),
              after: JSON.stringify(edited),
            },
            ConditionExpression: "attribute_not_exists(pk)",
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: { pk: "counterKey", sk: counterKey(RULE), ruleId: "views" },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: { pk: "counterKey", sk: counterKey(edited), ruleId: "views" },
          },
        },
      ],
    });
  });

  it.each([
    ["a failed condition", "ConditionalCheckFailed", 409],
    ["a concurrent transaction", "TransactionConflict", 409],
    ["throttling", "ThrottlingError", 500],
  ])("maps a cancelled transaction because of %s to %i", async (_, code, status) => {
    ddb.on(GetCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(TransactWriteCommand).rejects(
      new TransactionCanceledException({
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${code}]`,
        $metadata: {},
        CancellationReasons: [{ Code: code }, { Code: "None" }, { Code: "None" }],
      }),
    );
    expect((await call("POST", "/rules", { body: RULE })).status).toBe(status);
  });

  it("previews by query on the events table's byTypeDay index when EVENTS_TABLE is set", async () => {
    vi.stubEnv("EVENTS_TABLE", "pia-test-events");
    vi.stubEnv("PREVIEW_DAYS", "2");
    const item = toEventItem(
      {
        identity: "id:1",
        appId: "app-1",
        userId: "u1",
        eventType: "pageview",
        timestamp: Date.UTC(2030, 0, 1, 1),
        attributes: {},
        metrics: [],
      },
      2_000_000_000,
      { typeDay: true },
    );
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [item], LastEvaluatedKey: { pk: item.pk, sk: item.sk, typeDay: item.typeDay } })
      .resolves({ Items: [] });

    const answer = await call("POST", "/rules/preview", { body: { ...RULE, count: { op: ">=", value: 1 } } });

    expect(answer).toMatchObject({
      status: 200,
      body: { qualifying: 1, eventsRead: 1, from: "2030-01-01", to: "2030-01-02" },
    });
    const queries = ddb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    const query = (day: string) => ({
      TableName: "pia-test-events",
      IndexName: "byTypeDay",
      KeyConditionExpression: "typeDay = :k",
      ExpressionAttributeValues: { ":k": `pageview#${day}` },
    });
    expect(queries).toEqual([
      query("2030-01-01"),
      { ...query("2030-01-01"), ExclusiveStartKey: { pk: item.pk, sk: item.sk, typeDay: item.typeDay } },
      query("2030-01-02"),
    ]);
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it("explains a user by a query on the user's partition of the events table and a read of the rule's counter", async () => {
    vi.stubEnv("EVENTS_TABLE", "pia-test-events");
    vi.stubEnv("COUNTERS_TABLE", "pia-test-counters");
    const stored = (n: number) =>
      toEventItem(
        {
          identity: `id:${n}`,
          appId: "app-1",
          userId: "u1",
          eventType: "pageview",
          timestamp: Date.UTC(2030, 0, 1, n),
          attributes: {},
          metrics: [],
        },
        2_000_000_000,
      );
    ddb.on(GetCommand, { TableName: TABLE }).resolves({
      Item: { pk: "rule", sk: "views", rule: JSON.stringify(RULE), counterKey: counterKey(RULE) },
    });
    ddb.on(QueryCommand, { TableName: TABLE }).resolves({ Items: [] });
    ddb.on(QueryCommand, { TableName: "pia-test-events" }).resolves({ Items: [1, 2, 3, 4].map(stored) });
    ddb
      .on(GetCommand, { TableName: "pia-test-counters" })
      .resolves({ Item: { pk: userKey("app-1", "u1"), sk: counterKey(RULE), count: 4, fired: true } });

    const answer = await call("POST", "/rules/views/explain", { body: { userId: "u1", appId: "app-1" } });

    expect(answer).toMatchObject({
      status: 200,
      body: { holds: true, counted: 4, read: { events: 4 }, stored: { count: 4, fired: true } },
    });
    expect(
      ddb.commandCalls(QueryCommand, { TableName: "pia-test-events" }).map((c) => c.args[0].input),
    ).toEqual([
      {
        TableName: "pia-test-events",
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": userKey("app-1", "u1") },
        Limit: 1000,
      },
    ]);
    expect(ddb.commandCalls(GetCommand, { TableName: "pia-test-counters" })[0]?.args[0].input).toEqual({
      TableName: "pia-test-counters",
      Key: { pk: userKey("app-1", "u1"), sk: counterKey(RULE) },
      ConsistentRead: true,
    });
    expect(ddb.commandCalls(ScanCommand)).toHaveLength(0);
  });

  it("answers 409 to an explain without COUNTERS_TABLE, reading nothing", async () => {
    vi.stubEnv("EVENTS_TABLE", "pia-test-events");
    const answer = await call("POST", "/rules/views/explain", { body: { userId: "u1", appId: "" } });
    expect(answer.status).toBe(409);
    expect(answer.body.message).toMatch(/set EVENTS_TABLE and COUNTERS_TABLE/);
    expect(ddb.calls()).toHaveLength(0);
  });

  it("answers 409 to a preview without EVENTS_TABLE, reading nothing", async () => {
    const answer = await call("POST", "/rules/preview", { body: RULE });
    expect(answer.status).toBe(409);
    expect(answer.body.message).toMatch(/set EVENTS_TABLE, and deploy ingest with PIA_PREVIEW_INDEX=true/);
    expect(ddb.calls()).toHaveLength(0);
  });
});
