import { Logger } from "@aws-lambda-powertools/logger";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { buildRulesTable, cachedRuleSource, OUTSIDE_AUTHOR, TABLES, toCreateTableInput } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey } from "@pia/core";
import { type DynamoDbLocal, startDynamoDbLocal } from "@pia/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildRuleStore } from "../src/adapters/buildRuleStore.js";
import { buildRulesApiHandler } from "../src/buildRulesApiHandler.js";
import { RuleVersionConflictError } from "../src/errors.js";
import { apiEvent, context, type EventOptions, USER_ARN } from "./events.js";

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);
const AT = "2030-01-02T03:04:05.000Z";

function rule(id: string, overrides: Partial<Rule> = {}): Rule {
  return {
    id,
    event: "pageview",
    count: { op: ">", value: 3 },
    action: { type: "attribute", name: id, value: "Ready" },
    reset: false,
    enabled: true,
    ...overrides,
  };
}

let dynamoDb: DynamoDbLocal;
let raw: DynamoDBClient;
let client: DynamoDBDocumentClient;
let tables = 0;

beforeAll(async () => {
  dynamoDb = await startDynamoDbLocal();
  raw = new DynamoDBClient({
    region: "us-east-1",
    endpoint: dynamoDb.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  client = DynamoDBDocumentClient.from(raw);
}, 60_000);

afterAll(async () => {
  raw?.destroy();
  await dynamoDb?.stop();
});

/** A fresh rules table, as the stack creates it, and the API and the pipeline's views of it. */
async function world() {
  const tableName = `rules-${++tables}`;
  await raw.send(new CreateTableCommand(toCreateTableInput(TABLES.rules, tableName)));
  const store = buildRuleStore(client, { tableName, now: () => NOW });
  const handler = buildRulesApiHandler({
    config: { rulesTable: tableName, access: { authorizer: "iam" }, allowedOrigins: [] },
    store,
    logger: new Logger({ serviceName: "pia-rules", logLevel: "ERROR" }),
    now: () => NOW,
  });
  const call = async (method: string, path: string, options: EventOptions = {}) => {
    const result = await handler(apiEvent(method, path, options), context);
    return {
      status: result.statusCode,
      body: result.body === undefined ? undefined : JSON.parse(result.body),
    };
  };
  const rulesTable = buildRulesTable(client, tableName, { now: () => NOW });
  const item = async (pk: string, sk: string) =>
    (await client.send(new GetCommand({ TableName: tableName, Key: { pk, sk }, ConsistentRead: true }))).Item;
  const partition = async (pk: string) =>
    (
      await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pk },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const registeredKeys = async () =>
    (await rulesTable.listCounterKeys()).map((entry) => entry.counterKey).sort();
  return { tableName, store, call, rulesTable, item, partition, registeredKeys };
}

const ifMatch = (version: number) => ({ headers: { "if-match": `"${version}"` } });

describe("the rules API on DynamoDB Local", () => {
  it("writes the rule, its version and its counter keys together, for every kind of change", async () => {
    const w = await world();
    const views = rule("views");
    expect((await w.call("POST", "/rules", { body: views })).status).toBe(201);
    expect(await w.item("rule", "views")).toEqual({
      pk: "rule",
      sk: "views",
      rule: JSON.stringify(views),
      counterKey: counterKey(views),
      updatedAt: AT,
      updatedBy: USER_ARN,
      version: 1,
    });
    expect(await w.registeredKeys()).toEqual([counterKey(views)]);

    // A new event is a new counter key: both stay registered, so the old counters get cleaned up.
    const clicks = rule("views", { event: "click" });
    expect((await w.call("PUT", "/rules/views", { body: clicks, ...ifMatch(1) })).status).toBe(200);
    expect(await w.registeredKeys()).toEqual([counterKey(views), counterKey(clicks)].sort());
    expect((await w.call("POST", "/rules/views/disable", ifMatch(2))).status).toBe(200);
    expect((await w.call("DELETE", "/rules/views", ifMatch(3))).status).toBe(200);
    expect(await w.item("rule", "views")).toBeUndefined();
    expect(await w.registeredKeys()).toEqual([counterKey(views), counterKey(clicks)].sort());

    const history = await w.call("GET", "/rules/views/versions");
    expect(
      history.body.versions.map((v: { version: number; change: string; before?: Rule; after?: Rule }) => [
        v.version,
        v.change,
        v.before?.event,
        v.after?.event,
        v.after?.enabled,
      ]),
    ).toEqual([
      [1, "create", undefined, "pageview", true],
      [2, "update", "pageview", "click", true],
      [3, "disable", "click", "click", false],
      [4, "delete", "click", undefined, undefined],
    ]);
    expect((await w.partition("version#views")).map((entry) => entry.sk)).toEqual([
      "0000000001",
      "0000000002",
      "0000000003",
      "0000000004",
    ]);

    const restored = await w.call("POST", "/rules/views/versions/1/restore", ifMatch(4));
    expect(restored).toMatchObject({ status: 200, body: { version: 5, rule: views } });
    expect(await w.rulesTable.list()).toEqual([views]);
  });

  it("lets exactly one of two concurrent updates from the same version win; the other gets 409", async () => {
    const w = await world();
    await w.call("POST", "/rules", { body: rule("race") });
    const outcomes = await Promise.all(
      ["click", "tap"].map((event) =>
        w.call("PUT", "/rules/race", { body: rule("race", { event }), ...ifMatch(1) }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual([200, 409]);
    const winner = outcomes.find((outcome) => outcome.status === 200)?.body.rule.event;
    expect((await w.call("GET", "/rules/race")).body).toMatchObject({ version: 2, rule: { event: winner } });
    expect(await w.partition("version#race")).toHaveLength(2);
  });

  it("decides a race between two writers that read the same version by the transaction's condition", async () => {
    const w = await world();
    await w.call("POST", "/rules", { body: rule("race") });
    // Both transactions wait until both writers have read: only the condition can tell them apart.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const gated = {
      send: async (command: unknown) => {
        if (command instanceof TransactWriteCommand) {
          if (++arrived === 2) release();
          await bothRead;
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = buildRuleStore(gated, { tableName: w.tableName });
    const outcomes = await Promise.allSettled(
      ["click", "tap"].map((event) =>
        store.change("race", () => ({ change: "update", after: rule("race", { event }) }), {
          by: "t",
          at: NOW,
        }),
      ),
    );
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(["fulfilled", "rejected"]);
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    expect(failure?.status === "rejected" && failure.reason).toBeInstanceOf(RuleVersionConflictError);
    expect((await w.partition("version#race")).map((entry) => entry.version)).toEqual([1, 2]);
  });

  it("leaves a disabled rule out of the pipeline's rule source, and keeps its counter key current", async () => {
    const w = await world();
    const kept = rule("kept");
    const paused = rule("paused", { event: "click" });
    await w.call("POST", "/rules", { body: kept });
    await w.call("POST", "/rules", { body: paused });
    expect((await w.call("POST", "/rules/paused/disable")).status).toBe(200);

    // What aggregate evaluates: the cached rule source over the rules table.
    const pipeline = cachedRuleSource(() => w.rulesTable.list(), { ttlMs: 0 });
    expect(await pipeline()).toEqual([kept]);
    // What timeseries' cleanup compares the registry with: the disabled rule's counters stay.
    const current = new Set((await w.rulesTable.list()).map(counterKey));
    expect(current.has(counterKey(paused))).toBe(true);
    expect(await w.registeredKeys()).toEqual([counterKey(kept), counterKey(paused)].sort());

    await w.call("POST", "/rules/paused/enable");
    expect((await pipeline()).map((r) => r.id)).toEqual(["kept", "paused"]);
  });

  it("stores a rolling rule as the pipeline reads it, with its counter key registered", async () => {
    const w = await world();
    const active = rule("active", { count: { op: ">", value: 5 }, window: { last: "7d" } });
    expect((await w.call("POST", "/rules", { body: active })).status).toBe(201);
    // What aggregate reads: the rule, window and all.
    expect(await w.rulesTable.list()).toEqual([active]);
    expect(await w.registeredKeys()).toEqual([counterKey(active)]);
    expect((await w.call("GET", "/rules")).body.rules).toMatchObject([
      { rule: active, words: "pageview: count > 5 in the last 7 days", version: 1 },
    ]);
  });

  it("versions rules written by pia rules push, and notices pushes in between", async () => {
    const w = await world();
    const pushed = rule("pushed");
    await w.rulesTable.put([pushed]);
    expect((await w.call("GET", "/rules/pushed")).body).toEqual({
      rule: pushed,
      words: "pageview: count > 3 (lifetime)",
      version: 1,
      counterKey: counterKey(pushed),
      updatedAt: AT,
      updatedBy: OUTSIDE_AUTHOR,
    });
    expect((await w.call("GET", "/rules")).body.rules).toEqual([
      {
        rule: pushed,
        words: "pageview: count > 3 (lifetime)",
        version: 1,
        counterKey: counterKey(pushed),
        updatedAt: AT,
        updatedBy: OUTSIDE_AUTHOR,
      },
    ]);
    expect(
      (await w.call("PUT", "/rules/pushed", { body: rule("pushed", { event: "a" }), ...ifMatch(1) })).status,
    ).toBe(200);

    // A push that changes the rule makes version 3 (recorded later); an edit made from version 2 is refused.
    await w.rulesTable.put([rule("pushed", { event: "b" })]);
    const stale = await w.call("PUT", "/rules/pushed", {
      body: rule("pushed", { event: "c" }),
      ...ifMatch(2),
    });
    expect(stale).toMatchObject({ status: 409, body: { currentVersion: 3 } });
    expect(
      (await w.call("PUT", "/rules/pushed", { body: rule("pushed", { event: "c" }), ...ifMatch(3) })).status,
    ).toBe(200);

    // A push without the rule deletes it; the next create records that deletion first.
    await w.rulesTable.put([]);
    expect((await w.call("POST", "/rules", { body: rule("pushed", { event: "d" }) })).body.version).toBe(6);
    const history = (await w.call("GET", "/rules/pushed/versions")).body.versions;
    expect(
      history.map((v: { version: number; change: string; by: string; before?: Rule; after?: Rule }) => [
        v.version,
        v.change,
        v.by,
        v.before?.event,
        v.after?.event,
      ]),
    ).toEqual([
      [1, "push", OUTSIDE_AUTHOR, undefined, "pageview"],
      [2, "update", USER_ARN, "pageview", "a"],
      [3, "push", OUTSIDE_AUTHOR, "a", "b"],
      [4, "update", USER_ARN, "b", "c"],
      [5, "push", OUTSIDE_AUTHOR, "c", undefined],
      [6, "create", USER_ARN, undefined, "d"],
    ]);
    expect((await w.call("POST", "/rules/pushed/versions/3/restore")).body).toMatchObject({
      version: 7,
      rule: { event: "b" },
    });
  });

  it("shows an unrecorded push in the history, and keeps what push leaves unchanged", async () => {
    const w = await world();
    await w.call("POST", "/rules", { body: rule("r") });
    // Pushing the same rule again writes nothing: the API's version stays.
    expect(await w.rulesTable.put([rule("r")])).toMatchObject({ unchanged: 1 });
    expect((await w.call("GET", "/rules/r")).body.version).toBe(1);
    await w.rulesTable.put([rule("r", { event: "x" })]);
    const history = (await w.call("GET", "/rules/r/versions")).body.versions;
    expect(history.map((v: { version: number; change: string }) => [v.version, v.change])).toEqual([
      [1, "create"],
      [2, "push"],
    ]);
    expect((await w.store.version("r", 2))?.after?.event).toBe("x");
  });

  it("stores a rule's sink and every other field as it lists them", async () => {
    const w = await world();
    const full = rule("full", {
      where: { product: "chair", colour: "red" },
      sum: { metric: "price", op: ">=", value: "180.50" },
      window: { from: "2021-01-01", to: "2021-01-31" },
      action: { type: "event", name: "trk_full", sink: "webhook" },
    });
    expect((await w.call("POST", "/rules", { body: full })).status).toBe(201);
    expect((await w.call("GET", "/rules/full")).body.rule).toEqual(full);
    expect(await w.rulesTable.list()).toEqual([full]);
    expect(await w.rulesTable.put([full])).toMatchObject({ unchanged: 1 });
  });

  it("imports a CSV as one transaction: versions, deletions, and all or nothing over DynamoDB's limit", async () => {
    const w = await world();
    await w.rulesTable.put([
      rule("old"),
      rule("kept", { action: { type: "attribute", name: "pageview", value: "Ready" } }),
    ]);
    const header =
      "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";
    const row = (id: string) => `aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,${id}`;
    const imported = await w.call("POST", "/rules/import", {
      body: { csv: [header, row("kept"), row("new")].join("\n") },
    });
    expect(imported).toMatchObject({
      status: 200,
      body: { created: ["new"], updated: [], deleted: ["old"], unchanged: ["kept"] },
    });
    expect((await w.rulesTable.list()).map((r) => r.id).sort()).toEqual(["kept", "new"]);
    // The pushed rule's deletion records the push first, as any API change does.
    expect((await w.partition("version#old")).map((v) => [v.version, v.change])).toEqual([
      [1, "push"],
      [2, "delete"],
    ]);
    expect(await w.registeredKeys()).toContain(counterKey(rule("old")));

    // 40 new rules take 120 items (rule, version, counter key each): refused, nothing written.
    const many = Array.from({ length: 40 }, (_, i) => row(`r${i}`));
    const refused = await w.call("POST", "/rules/import", { body: { csv: [header, ...many].join("\n") } });
    expect(refused.status).toBe(413);
    expect(refused.body.message).toContain("limit of 100 per transaction");
    expect((await w.rulesTable.list()).map((r) => r.id).sort()).toEqual(["kept", "new"]);
  });
});
