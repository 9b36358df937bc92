import { Logger } from "@aws-lambda-powertools/logger";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  buildRulesTable,
  cachedRuleSet,
  newBackfillJob,
  OUTSIDE_AUTHOR,
  TABLES,
  toCreateTableInput,
} from "@pia/aws";
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
    const ruleSet = cachedRuleSet(w.rulesTable.listRuleSet, { ttlMs: 0 });
    const pipeline = async () => (await ruleSet()).rules;
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

describe("backfill requests of the rules table's versioned writes, on DynamoDB Local", () => {
  const author = { by: USER_ARN, at: NOW };
  const create = (r: Rule) => () => ({ change: "create" as const, after: r });

  /** The store over a client that records every command sent. */
  function recording(w: Awaited<ReturnType<typeof world>>) {
    const sent: unknown[] = [];
    const spy = {
      send: async (command: unknown) => {
        sent.push(command);
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    return { store: buildRuleStore(spy, { tableName: w.tableName, now: () => NOW }), sent };
  }

  it("stores a new counting's job in the rule's own transaction, conditional on absence", async () => {
    const w = await world();
    const { store, sent } = recording(w);
    const views = rule("views");
    const result = await store.change("views", create(views), author, { backfill: { mode: "notify" } });
    expect(result.backfill).toBe("requested");
    const key = counterKey(views);
    expect(await w.item("backfill", key)).toEqual({
      pk: "backfill",
      sk: key,
      counterKey: key,
      ruleId: "views",
      mode: "notify",
      requestedAt: NOW,
      requestedBy: USER_ARN,
      state: "requested",
      progress: { days: 0, daysTotal: 0, merged: 0, eventsRead: 0, notifications: 0 },
      updatedAt: NOW,
      rev: 1,
    });
    expect(await w.rulesTable.backfills.get(key)).toMatchObject({ state: "requested", mode: "notify" });
    // One write in all: the transaction holds the rule, its version, its key and the job.
    const writes = sent.filter(
      (command) => !(command instanceof GetCommand || command instanceof QueryCommand),
    );
    expect(writes).toHaveLength(1);
    const [transaction] = writes;
    expect(transaction).toBeInstanceOf(TransactWriteCommand);
    const items = (transaction as TransactWriteCommand).input.TransactItems ?? [];
    expect(items.map((entry) => [entry.Put?.Item?.pk, entry.Put?.ConditionExpression])).toEqual([
      ["rule", "attribute_not_exists(pk)"],
      ["version#views", "attribute_not_exists(pk)"],
      ["counterKey", "attribute_not_exists(pk)"],
      ["backfill", "attribute_not_exists(pk)"],
    ]);
  });

  it("writes neither rule nor job when the counting is registered between the read and the write", async () => {
    const w = await world();
    const views = rule("views");
    // Another writer (a push cut short after its keys) registers the counting meanwhile: only the
    // registration's condition can tell, and it cancels the whole transaction.
    const racing = {
      send: async (command: unknown) => {
        if (command instanceof TransactWriteCommand) {
          await client.send(
            new PutCommand({
              TableName: w.tableName,
              Item: { pk: "counterKey", sk: counterKey(views), ruleId: "views" },
            }),
          );
        }
        return client.send(command as never);
      },
    } as unknown as DynamoDBDocumentClient;
    const store = buildRuleStore(racing, { tableName: w.tableName, now: () => NOW });
    await expect(
      store.change("views", create(views), author, { backfill: { mode: "silent" } }),
    ).rejects.toBeInstanceOf(RuleVersionConflictError);
    expect(await w.partition("backfill")).toEqual([]);
    expect(await w.item("rule", "views")).toBeUndefined();
    expect(await w.partition("version#views")).toEqual([]);
    // Done again, the counting is known: the rule is written, with no job.
    expect(
      await w.store.change("views", create(views), author, { backfill: { mode: "silent" } }),
    ).toMatchObject({
      version: 1,
      backfill: "alreadyCounting",
    });
    expect(await w.partition("backfill")).toEqual([]);
  });

  it("replaces a job left over for a counting that is not registered (it counts nothing)", async () => {
    const w = await world();
    const views = rule("views");
    const key = counterKey(views);
    const stale = {
      ...newBackfillJob(key, "views", { mode: "silent" }, NOW - 86_400_000),
      state: "done" as const,
      finishedAt: NOW - 3_600_000,
      rev: 7,
    };
    expect(await w.rulesTable.backfills.create(stale)).toBe(true);
    const result = await w.store.change("views", create(views), author, { backfill: { mode: "notify" } });
    expect(result.backfill).toBe("requested");
    expect(await w.rulesTable.backfills.get(key)).toEqual(
      newBackfillJob(key, "views", { mode: "notify", requestedBy: USER_ARN }, NOW),
    );
  });

  it("answers alreadyCounting, and stores no job, when the counter key is registered", async () => {
    const w = await world();
    const views = rule("views");
    // Pushed earlier: its counting is registered and counts already.
    await w.rulesTable.put([views]);
    const renamed = rule("views", { action: { type: "attribute", name: "renamed", value: "Ready" } });
    const result = await w.store.change("views", () => ({ change: "update", after: renamed }), author, {
      backfill: { mode: "notify" },
    });
    expect(result).toMatchObject({ version: 2, backfill: "alreadyCounting" });
    expect(await w.partition("backfill")).toEqual([]);

    // Deleted and created again with the same counting: its counters are still registered.
    await w.store.change("views", () => ({ change: "delete", after: undefined }), author);
    const again = await w.store.change("views", create(views), author, { backfill: { mode: "notify" } });
    expect(again.backfill).toBe("alreadyCounting");
    expect(await w.partition("backfill")).toEqual([]);
  });

  it("answers notSupported for a rolling rule, writes the rule, and stores no job", async () => {
    const w = await world();
    const active = rule("active", { window: { last: "7d" } });
    const result = await w.store.change("active", create(active), author, { backfill: { mode: "notify" } });
    expect(result).toMatchObject({ version: 1, backfill: "notSupported" });
    expect(await w.rulesTable.list()).toEqual([active]);
    expect(await w.partition("backfill")).toEqual([]);
    expect(await w.registeredKeys()).toEqual([counterKey(active)]);
  });

  it("requests a backfill for an update or a restore that counts anew, keyed by the new counting", async () => {
    const w = await world();
    const views = rule("views");
    await w.store.change("views", create(views), author);
    const clicks = rule("views", { event: "click" });
    const updated = await w.store.change("views", () => ({ change: "update", after: clicks }), author, {
      backfill: { mode: "silent" },
    });
    expect(updated.backfill).toBe("requested");
    expect((await w.partition("backfill")).map((job) => [job.sk, job.mode])).toEqual([
      [counterKey(clicks), "silent"],
    ]);
    // Restoring version 1 goes back to a counting that was registered: nothing to backfill.
    const restored = await w.store.change(
      "views",
      () => ({ change: "restore", after: views, restoredFrom: 1 }),
      author,
      { backfill: { mode: "notify" } },
    );
    expect(restored.backfill).toBe("alreadyCounting");
    expect(await w.partition("backfill")).toHaveLength(1);
    // Without a request, a new counting gets no job.
    await w.store.change(
      "views",
      () => ({ change: "update", after: rule("views", { event: "tap" }) }),
      author,
    );
    expect(await w.partition("backfill")).toHaveLength(1);
  });

  it("shows the backfill of a rule's current counting in GET /rules/{id} and GET /rules", async () => {
    const w = await world();
    const created = await w.call("POST", "/rules", { body: { ...rule("views"), backfill: "notify" } });
    const key = counterKey(rule("views"));
    expect(created).toMatchObject({
      status: 201,
      body: {
        counterKey: key,
        backfillOutcome: "requested",
        backfill: { state: "requested", mode: "notify", requestedAt: AT, requestedBy: USER_ARN },
      },
    });
    // The job moves on (as the timeseries job saves it).
    const job = await w.rulesTable.backfills.get(key);
    if (job === undefined) throw new Error("no job");
    const boundary = NOW + 60_000;
    await w.rulesTable.backfills.save({
      ...job,
      state: "discovering",
      boundary,
      settledAt: boundary + 60_000,
      progress: { days: 120, daysTotal: 401, merged: 5300, eventsRead: 80_000, notifications: 12 },
      updatedAt: boundary,
      rev: job.rev + 1,
    });
    const status = {
      state: "discovering",
      mode: "notify",
      requestedAt: AT,
      requestedBy: USER_ARN,
      boundary: new Date(boundary).toISOString(),
      settledAt: new Date(boundary + 60_000).toISOString(),
      progress: { days: 120, daysTotal: 401, merged: 5300, eventsRead: 80_000, notifications: 12 },
    };
    expect((await w.call("GET", "/rules/views")).body.backfill).toEqual(status);
    await w.call("POST", "/rules", { body: rule("plain", { event: "click" }) });
    const listed = (await w.call("GET", "/rules")).body.rules;
    expect(
      listed.map((entry: { rule: Rule; backfill?: unknown }) => [entry.rule.id, entry.backfill]),
    ).toEqual([
      ["plain", undefined],
      ["views", status],
    ]);
    // An edit to another counting: the rule shows that counting's backfill (none), not the old one.
    const edited = await w.call("PUT", "/rules/views", {
      body: rule("views", { event: "tap" }),
      ...ifMatch(1),
    });
    expect(edited.status).toBe(200);
    expect(edited.body.backfill).toBeUndefined();
    expect(edited.body.backfillOutcome).toBeUndefined();
  });
});
