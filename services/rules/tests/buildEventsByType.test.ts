import { Logger } from "@aws-lambda-powertools/logger";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { TABLES, type TableDefinition, toCreateTableInput, toEventItem } from "@pia/aws";
import type { PiaEvent } from "@pia/core";
import { type DynamoDbLocal, startDynamoDbLocal } from "@pia/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BY_TYPE_DAY_INDEX, buildEventsByType } from "../src/adapters/buildEventsByType.js";
import { buildRulesApiHandler } from "../src/buildRulesApiHandler.js";
import { PreviewUnavailableError } from "../src/errors.js";
import { apiEvent, context } from "./events.js";

const DAY = Date.UTC(2024, 2, 14, 8);
const NOW = Date.UTC(2024, 2, 15, 12);

let dynamoDb: DynamoDbLocal;
let raw: DynamoDBClient;
let client: DynamoDBDocumentClient;
/** Every command the document client sent, by name, with its input. */
const sent: Array<{ command: string; input: Record<string, unknown> }> = [];
let tables = 0;

beforeAll(async () => {
  dynamoDb = await startDynamoDbLocal();
  raw = new DynamoDBClient({
    region: "us-east-1",
    endpoint: dynamoDb.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  client = DynamoDBDocumentClient.from(raw);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: context.commandName ?? "?", input: args.input as Record<string, unknown> });
      return next(args);
    },
    { step: "initialize", name: "recordCommands" },
  );
}, 60_000);

afterAll(async () => {
  raw?.destroy();
  await dynamoDb?.stop();
});

function event(user: string, spec: Partial<PiaEvent> = {}): PiaEvent {
  return {
    identity: `id:${user}-${spec.eventType ?? "purchase"}-${spec.timestamp ?? DAY}`,
    appId: "app-1",
    userId: user,
    endpointId: `ep-${user}`,
    eventType: "purchase",
    timestamp: DAY,
    attributes: { product: "chair" },
    metrics: [["price", "129.99"]],
    ...spec,
  };
}

/** A fresh events table as the stack creates it (from `TABLES.events`, with the byTypeDay index). */
async function eventsTable(definition: TableDefinition = TABLES.events): Promise<string> {
  const tableName = `events-${++tables}`;
  await raw.send(new CreateTableCommand(toCreateTableInput(definition, tableName)));
  return tableName;
}

/** Writes the events as ingest does, with or without `typeDay`; returns the write units used. */
async function write(tableName: string, events: PiaEvent[], typeDay: boolean) {
  const result = await client.send(
    new BatchWriteCommand({
      RequestItems: {
        [tableName]: events.map((e) => ({
          PutRequest: { Item: toEventItem(e, 2_000_000_000, { typeDay }) },
        })),
      },
      ReturnConsumedCapacity: "INDEXES",
    }),
  );
  const [consumed] = result.ConsumedCapacity ?? [];
  return {
    table: consumed?.Table?.CapacityUnits ?? 0,
    index: consumed?.GlobalSecondaryIndexes?.[BY_TYPE_DAY_INDEX]?.CapacityUnits ?? 0,
  };
}

async function readAll(read: ReturnType<typeof buildEventsByType>, eventType: string, day: string) {
  const events: PiaEvent[] = [];
  for await (const e of read(eventType, day)) events.push(e);
  return events;
}

describe("buildEventsByType on DynamoDB Local", () => {
  it("reads only the events written with typeDay, of one type and day, by query, page after page", async () => {
    const tableName = await eventsTable();
    const indexed = ["u3", "u1", "u5", "u2", "u4"].map((user) => event(user));
    const others = [
      event("u6", { timestamp: Date.UTC(2024, 2, 15, 1) }),
      event("u7", { eventType: "pageview", metrics: [] }),
    ];
    const unindexed = [event("u8"), event("u9")];

    // An item in the index costs one write unit more (these items are under 1 KB).
    expect(await write(tableName, [...indexed, ...others], true)).toStrictEqual({ table: 7, index: 7 });
    expect(await write(tableName, unindexed, false)).toStrictEqual({ table: 2, index: 0 });

    const read = buildEventsByType(client, { tableName, pageSize: 2 });
    sent.length = 0;
    const events = await readAll(read, "purchase", "2024-03-14");

    expect(events).toStrictEqual(["u1", "u2", "u3", "u4", "u5"].map((user) => event(user)));
    expect(sent.map(({ command }) => command)).toStrictEqual([
      "QueryCommand",
      "QueryCommand",
      "QueryCommand",
    ]);
    expect(sent[0]?.input).toStrictEqual({
      TableName: tableName,
      IndexName: "byTypeDay",
      KeyConditionExpression: "typeDay = :k",
      ExpressionAttributeValues: { ":k": "purchase#2024-03-14" },
      Limit: 2,
    });
    expect(sent[1]?.input.ExclusiveStartKey).toBeDefined();

    expect(await readAll(read, "purchase", "2024-03-15")).toStrictEqual([others[0]]);
    expect(await readAll(read, "pageview", "2024-03-14")).toStrictEqual([others[1]]);
    expect(await readAll(read, "purchase", "2024-03-13")).toStrictEqual([]);
  });

  it("reads DynamoDB's own pages when no page size is set", async () => {
    const tableName = await eventsTable();
    await write(tableName, [event("u1"), event("u2")], true);
    sent.length = 0;

    const events = await readAll(buildEventsByType(client, { tableName }), "purchase", "2024-03-14");

    expect(events.map(({ userId }) => userId)).toStrictEqual(["u1", "u2"]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.input).not.toHaveProperty("Limit");
  });

  it("reports a table without the index as PreviewUnavailableError", async () => {
    const tableName = await eventsTable(TABLES.quarantine);
    const read = buildEventsByType(client, { tableName });

    await expect(readAll(read, "purchase", "2024-03-14")).rejects.toBeInstanceOf(PreviewUnavailableError);
    await expect(
      readAll(buildEventsByType(client, { tableName: "no-such-table" }), "purchase", "2024-03-14"),
    ).rejects.toBeInstanceOf(PreviewUnavailableError);
  });

  it("serves POST /rules/preview from the index", async () => {
    const tableName = await eventsTable();
    await write(
      tableName,
      [
        event("u1"),
        event("u1", { timestamp: DAY + 1 }),
        event("u2"),
        event("u3", { timestamp: Date.UTC(2024, 2, 1) }),
        event("u3", { timestamp: Date.UTC(2024, 2, 2) }),
      ],
      true,
    );
    await write(tableName, [event("u2", { timestamp: DAY + 1 })], false);
    const handler = buildRulesApiHandler({
      config: { rulesTable: "unused", access: { authorizer: "iam" }, allowedOrigins: [] },
      store: {} as never,
      readEventsByTypeDay: buildEventsByType(client, { tableName }),
      logger: new Logger({ serviceName: "pia-rules", logLevel: "SILENT" }),
      now: () => NOW,
    });
    const draft = {
      id: "two-purchases",
      event: "purchase",
      count: { op: ">=", value: 2 },
      action: { type: "attribute", name: "buyer" },
    };

    const result = await handler(apiEvent("POST", "/rules/preview", { body: draft }), context);

    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body ?? "")).toStrictEqual({
      qualifying: 2,
      sample: [
        { appId: "app-1", userId: "u1" },
        { appId: "app-1", userId: "u3" },
      ],
      usersSeen: 3,
      eventsRead: 5,
      from: "2024-02-15",
      to: "2024-03-15",
      truncated: false,
    });
  });
});
