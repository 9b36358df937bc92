import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DeleteCommand,
  type DeleteCommandInput,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import type { Rule } from "@pia/core";
import { counterKey, InvalidRulesError, parseRulesCsv, parseRulesYaml } from "@pia/core";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { InvalidStoredRulesError } from "../src/ruleSource.js";
import { buildRulesTable, RulesTableWriteError } from "../src/rulesTable/rulesTable.js";

const TABLE = "pia-test-rules";
const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);
const UPDATED_AT = "2030-01-02T03:04:05.000Z";

const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));

const KEY_ORDER = ["id", "event", "where", "count", "sum", "window", "action", "reset", "enabled"] as const;

/** A valid rule, its keys in the canonical order, so that `JSON.stringify` gives the stored text. */
function rule(id: string, overrides: Partial<Rule> = {}): Rule {
  const merged: Partial<Rule> = {
    id,
    event: "purchase",
    count: { op: ">", value: 3 },
    action: { type: "attribute", name: `n_${id}`, value: "Ready" },
    reset: false,
    enabled: true,
    ...overrides,
  };
  return Object.fromEntries(
    KEY_ORDER.filter((key) => key in merged).map((key) => [key, merged[key]]),
  ) as unknown as Rule;
}

/** The stored text of a rule as `put` writes it (key order fixed by the store). */
function stored(r: Rule): Record<string, unknown> {
  return { pk: "rule", sk: r.id, rule: JSON.stringify(r), counterKey: counterKey(r), updatedAt: "earlier" };
}

/** Records the waits instead of waiting. */
function table(waits: number[] = [], maxAttempts = 8) {
  return buildRulesTable(client, TABLE, {
    now: () => NOW,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    maxAttempts,
  });
}

interface FakeTable {
  readonly items: Map<string, Record<string, unknown>>;
  /** Requests DynamoDB leaves unprocessed in the next BatchWrite answers, one entry per answer. */
  readonly leave: number[];
}

const itemKey = (pk: unknown, sk: unknown) => JSON.stringify([pk, sk]);

/** A small in-memory table behind the mock: Query pages of `pageSize`, BatchWrite, Delete. */
function fakeTable(pageSize = 1000): FakeTable {
  const fake: FakeTable = { items: new Map(), leave: [] };
  ddb.on(QueryCommand).callsFake((input: QueryCommandInput) => {
    const pk = input.ExpressionAttributeValues?.[":pk"];
    const all = [...fake.items.values()]
      .filter((item) => item.pk === pk)
      .sort((a, b) => (String(a.sk) < String(b.sk) ? -1 : 1));
    const after = input.ExclusiveStartKey?.sk;
    const start = after === undefined ? 0 : all.findIndex((item) => String(item.sk) > String(after));
    const page = start < 0 ? [] : all.slice(start, start + pageSize);
    const last = page.at(-1);
    const more = start >= 0 && start + pageSize < all.length;
    return {
      Items: page.map((item) => ({ ...item })),
      ...(more && last !== undefined ? { LastEvaluatedKey: { pk, sk: last.sk } } : {}),
    };
  });
  ddb.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => {
    const requests = input.RequestItems?.[TABLE] ?? [];
    const leave = fake.leave.shift() ?? 0;
    const applied = requests.slice(0, requests.length - leave);
    for (const request of applied) {
      const put = request.PutRequest?.Item;
      if (put !== undefined) fake.items.set(itemKey(put.pk, put.sk), { ...put });
      const key = request.DeleteRequest?.Key;
      if (key !== undefined) fake.items.delete(itemKey(key.pk, key.sk));
    }
    const left = requests.slice(applied.length);
    return { UnprocessedItems: left.length === 0 ? {} : { [TABLE]: left } };
  });
  ddb.on(DeleteCommand).callsFake((input: DeleteCommandInput) => {
    const key = itemKey(input.Key?.pk, input.Key?.sk);
    const old = fake.items.get(key);
    fake.items.delete(key);
    return old !== undefined && input.ReturnValues === "ALL_OLD" ? { Attributes: old } : {};
  });
  return fake;
}

function seed(fake: FakeTable, ...items: Record<string, unknown>[]) {
  for (const item of items) fake.items.set(itemKey(item.pk, item.sk), item);
}

const batchRequests = () =>
  ddb.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems?.[TABLE] ?? []);

const queryInput = (pk: string, startSk?: string): QueryCommandInput => ({
  TableName: TABLE,
  KeyConditionExpression: "pk = :pk",
  ExpressionAttributeValues: { ":pk": pk },
  ConsistentRead: true,
  ...(startSk === undefined ? {} : { ExclusiveStartKey: { pk, sk: startSk } }),
});

beforeEach(() => {
  ddb.reset();
});

describe("list", () => {
  it("queries the rule partition page by page until there is no LastEvaluatedKey", async () => {
    const rules = Array.from({ length: 250 }, (_, n) => rule(`r${String(n).padStart(3, "0")}`));
    const pages = [rules.slice(0, 100), rules.slice(100, 200), rules.slice(200)];
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: pages[0]?.map(stored), LastEvaluatedKey: { pk: "rule", sk: "r099" } })
      .resolvesOnce({ Items: pages[1]?.map(stored), LastEvaluatedKey: { pk: "rule", sk: "r199" } })
      .resolvesOnce({ Items: pages[2]?.map(stored) });

    expect(await table().list()).toEqual(rules);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      queryInput("rule"),
      queryInput("rule", "r099"),
      queryInput("rule", "r199"),
    ]);
  });

  it("gives an empty list for an empty table", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    expect(await table().list()).toEqual([]);
  });

  it("fails loudly, naming every corrupted rule by id", async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        stored(rule("fine")),
        { ...stored(rule("not-json")), rule: "{broken" },
        { ...stored(rule("no-text")), rule: 42 },
        { ...stored(rule("moved")), sk: "elsewhere" },
      ],
    });
    const error = await table()
      .list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStoredRulesError);
    expect((error as InvalidStoredRulesError).ruleIds).toEqual(["not-json", "no-text", "elsewhere"]);
    expect((error as Error).message).toContain(`rules table ${TABLE}: 3 invalid stored rules`);
    expect((error as Error).message).toContain('rule "not-json": the stored rule is not JSON');
    expect((error as Error).message).toContain(
      'rule "elsewhere": the stored rule\'s id "moved" differs from the item\'s key',
    );
  });

  it("validates stored rules like a rules file and names the invalid one", async () => {
    const bad = { ...rule("bad-op"), count: { op: "!=", value: 3 } };
    ddb.on(QueryCommand).resolves({
      Items: [stored(rule("fine")), { ...stored(rule("bad-op")), rule: JSON.stringify(bad) }],
    });
    const error = await table()
      .list()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidStoredRulesError);
    expect((error as InvalidStoredRulesError).ruleIds).toEqual(["bad-op"]);
    expect((error as Error).message).toMatch(/rule "bad-op": count\.op: unknown operator "!="/);
  });
});

describe("put", () => {
  it("writes every rule of an empty table and registers their counter keys first, 25 per BatchWrite", async () => {
    const fake = fakeTable();
    const rules = Array.from({ length: 30 }, (_, n) => rule(`r${String(n).padStart(2, "0")}`));

    expect(await table().put(rules)).toEqual({ written: 30, deleted: 0, unchanged: 0 });

    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      queryInput("rule"),
      queryInput("counterKey"),
    ]);
    const registry = rules.map((r) => ({
      PutRequest: { Item: { pk: "counterKey", sk: counterKey(r), ruleId: r.id } },
    }));
    const writes = rules.map((r) => ({
      PutRequest: {
        Item: {
          pk: "rule",
          sk: r.id,
          rule: JSON.stringify(r),
          counterKey: counterKey(r),
          updatedAt: UPDATED_AT,
        },
      },
    }));
    expect(batchRequests()).toEqual([
      registry.slice(0, 25),
      registry.slice(25),
      writes.slice(0, 25),
      writes.slice(25),
    ]);
    expect(fake.items.size).toBe(60);
  });

  it("writes new and changed rules, deletes removed ones, and registers only new counter keys", async () => {
    const fake = fakeTable();
    const same = rule("same");
    const retargeted = rule("retargeted");
    const refiltered = rule("refiltered");
    const removed = rule("removed");
    seed(
      fake,
      ...[same, retargeted, refiltered, removed].map(stored),
      ...[same, retargeted, refiltered, removed].map((r) => ({
        pk: "counterKey",
        sk: counterKey(r),
        ruleId: r.id,
      })),
    );
    const newTarget = rule("retargeted", { count: { op: ">", value: 10 } });
    const newFilter = rule("refiltered", { where: { product: "chair" } });
    const added = rule("added");

    expect(await table().put([same, newTarget, newFilter, added])).toEqual({
      written: 3,
      deleted: 1,
      unchanged: 1,
    });

    const ruleItem = (r: Rule) => ({
      PutRequest: {
        Item: {
          pk: "rule",
          sk: r.id,
          rule: JSON.stringify(r),
          counterKey: counterKey(r),
          updatedAt: UPDATED_AT,
        },
      },
    });
    expect(batchRequests()).toEqual([
      [
        { PutRequest: { Item: { pk: "counterKey", sk: counterKey(newFilter), ruleId: "refiltered" } } },
        { PutRequest: { Item: { pk: "counterKey", sk: counterKey(added), ruleId: "added" } } },
      ],
      [
        ruleItem(newTarget),
        ruleItem(newFilter),
        ruleItem(added),
        { DeleteRequest: { Key: { pk: "rule", sk: "removed" } } },
      ],
    ]);
    // The old keys stay registered, so that the cleanup finds their counters.
    expect(await table().listCounterKeys()).toHaveLength(6);
    expect(counterKey(newTarget)).toBe(counterKey(retargeted));
  });

  it("writes nothing when the same rules are pushed again", async () => {
    fakeTable();
    const rules = [rule("a"), rule("b", { where: { z: "1", a: "2" } })];
    await table().put(rules);
    ddb.resetHistory();
    expect(await table().put([...rules].reverse())).toEqual({ written: 0, deleted: 0, unchanged: 2 });
    expect(ddb.commandCalls(BatchWriteCommand)).toHaveLength(0);
  });

  it("rewrites a rule whose stored counter key is stale (the key encoding changed)", async () => {
    const fake = fakeTable();
    const a = rule("a");
    seed(
      fake,
      { ...stored(a), counterKey: "a#stalestale00" },
      { pk: "counterKey", sk: "a#stalestale00", ruleId: "a" },
    );

    expect(await table().put([a])).toEqual({ written: 1, deleted: 0, unchanged: 0 });
    expect(fake.items.get(JSON.stringify(["rule", "a"]))?.counterKey).toBe(counterKey(a));
    expect((await table().listCounterKeys()).map((entry) => entry.counterKey).sort()).toEqual(
      [counterKey(a), "a#stalestale00"].sort(),
    );
  });

  it("deletes every rule when the new set is empty", async () => {
    const fake = fakeTable();
    await table().put([rule("a"), rule("b")]);
    expect(await table().put([])).toEqual({ written: 0, deleted: 2, unchanged: 0 });
    expect([...fake.items.values()].filter((item) => item.pk === "rule")).toEqual([]);
  });

  it("pages through more than one page of stored rules to find the removed ones", async () => {
    const fake = fakeTable(10);
    const rules = Array.from({ length: 35 }, (_, n) => rule(`r${String(n).padStart(2, "0")}`));
    await table().put(rules);
    ddb.resetHistory();
    expect(await table().put(rules.slice(0, 5))).toEqual({ written: 0, deleted: 30, unchanged: 5 });
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(8);
    expect([...fake.items.values()].filter((item) => item.pk === "rule")).toHaveLength(5);
  });

  it("retries unprocessed requests with backoff until they are written", async () => {
    const fake = fakeTable();
    fake.leave.push(0, 3, 1);
    const waits: number[] = [];
    const rules = [rule("a"), rule("b"), rule("c")];

    expect(await table(waits).put(rules)).toEqual({ written: 3, deleted: 0, unchanged: 0 });

    const sent = batchRequests();
    expect(sent.map((requests) => requests.length)).toEqual([3, 3, 3, 1]);
    expect(sent[3]).toEqual([sent[2]?.[2]]);
    expect(waits).toEqual([25, 50]);
    expect([...fake.items.values()].filter((item) => item.pk === "rule")).toHaveLength(3);
  });

  it("gives up after maxAttempts with an error that says to push again", async () => {
    const fake = fakeTable();
    fake.leave.push(0, 1, 1, 1);
    const error = await table([], 3)
      .put([rule("a")])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RulesTableWriteError);
    expect((error as Error).message).toMatch(/1 write was still unprocessed after 3 attempts.*push again/);
  });

  it("refuses invalid rules before any request", async () => {
    fakeTable();
    const duplicate = [rule("a"), rule("a")];
    await expect(table().put(duplicate)).rejects.toBeInstanceOf(InvalidRulesError);
    expect(ddb.calls()).toHaveLength(0);
  });

  it("stores a rolling window rule and registers its counter key, as any other", async () => {
    fakeTable();
    const rolling: Rule = { ...rule("lapsed"), count: { op: "=", value: 0 }, window: { last: "14d" } };
    await table().put([rule("a"), rolling]);
    const listed = await table().list();
    expect(listed.map((r) => [r.id, r.window])).toEqual([
      ["a", undefined],
      ["lapsed", { last: "14d" }],
    ]);
    expect((await table().listCounterKeys()).map((entry) => entry.counterKey)).toContain(counterKey(rolling));
  });

  it("stores what it lists: canonical and CSV rules come back equal", async () => {
    fakeTable();
    const yaml = parseRulesYaml(`
- id: big-spender
  event: purchase
  where: { product: table, colour: "0" }
  count: { op: ">", value: 3 }
  sum: { metric: price, op: ">=", value: 180.5 }
  window: { from: 2021-01-01, to: 2021-01-31 }
  action: { type: attribute, name: big_spender, value: Ready }
- id: resetter
  event: view
  sum: { op: ">", value: "-2.50" }
  action: { type: event, name: trk_view }
  reset: true
  enabled: false
`).rules;
    const csv = parseRulesCsv(
      [
        "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key",
        "date,purchase,product,chair,na,999,smaller,100,no,2021-01-01,2021-01-31,cheap-chairs",
      ].join("\n"),
    ).rules;
    const rules = [...yaml, ...csv].sort((a, b) => (a.id < b.id ? -1 : 1));
    await table().put(rules);
    expect(await table().list()).toEqual(rules);
    expect(await table().put(rules)).toEqual({ written: 0, deleted: 0, unchanged: 3 });
  });
});

describe("put with backfill", () => {
  /** Conditional puts on the fake table (backfill jobs are created only when absent). */
  function acceptPuts(fake: FakeTable, order: string[]) {
    ddb.on(PutCommand).callsFake((input: { Item: Record<string, unknown>; ConditionExpression?: string }) => {
      const key = itemKey(input.Item.pk, input.Item.sk);
      order.push(`put ${String(input.Item.pk)}`);
      if (input.ConditionExpression === "attribute_not_exists(pk)" && fake.items.has(key)) {
        throw new ConditionalCheckFailedException({ message: "exists", $metadata: {} });
      }
      fake.items.set(key, { ...input.Item });
      return {};
    });
    ddb.on(BatchWriteCommand).callsFake((input: BatchWriteCommandInput) => {
      for (const request of input.RequestItems?.[TABLE] ?? []) {
        const put = request.PutRequest?.Item;
        if (put !== undefined) {
          order.push(`batch ${String(put.pk)}`);
          fake.items.set(itemKey(put.pk, put.sk), { ...put });
        }
      }
      return { UnprocessedItems: {} };
    });
    ddb.on(GetCommand).callsFake((input: { Key: Record<string, unknown> }) => {
      const item = fake.items.get(itemKey(input.Key.pk, input.Key.sk));
      return item === undefined ? {} : { Item: { ...item } };
    });
  }

  it("stores a job for each new counting before its rule, and says what it did with the others", async () => {
    const fake = fakeTable();
    const order: string[] = [];
    acceptPuts(fake, order);
    const old = rule("old");
    seed(fake, stored(old), { pk: "counterKey", sk: counterKey(old), ruleId: "old" });
    const retargeted = rule("old", { count: { op: ">", value: 9 } });
    const added = rule("added");
    const rolling = rule("rolling", { window: { last: "7d" } });

    const result = await table().put([retargeted, added, rolling], {
      backfill: { mode: "silent", requestedBy: "ana" },
    });
    expect(result.backfill).toEqual({
      requested: ["added"],
      alreadyCounting: ["old"],
      notSupported: ["rolling"],
    });
    // The job first, then the counter keys, then the rules: whoever sees the rule sees its job.
    expect(order.indexOf("put backfill")).toBeLessThan(order.indexOf("batch counterKey"));
    expect(order.indexOf("batch counterKey")).toBeLessThan(order.indexOf("batch rule"));
    const jobs = await table().backfills.list();
    expect(jobs).toEqual([
      {
        counterKey: counterKey(added),
        ruleId: "added",
        mode: "silent",
        requestedAt: NOW,
        requestedBy: "ana",
        state: "requested",
        progress: { days: 0, daysTotal: 0, merged: 0, eventsRead: 0, notifications: 0 },
        updatedAt: NOW,
        rev: 1,
      },
    ]);
    const set = await table().listRuleSet();
    expect(set.rules.map((r) => r.id).sort()).toEqual(["added", "old", "rolling"]);
    expect([...set.backfills.entries()]).toEqual([
      [counterKey(added), { boundary: undefined, settledAt: undefined, mode: "silent" }],
    ]);
  });

  it("leaves a job that exists alone: pushing again does not restart a backfill", async () => {
    const fake = fakeTable();
    acceptPuts(fake, []);
    const added = rule("added");
    seed(fake, {
      pk: "backfill",
      sk: counterKey(added),
      ruleId: "added",
      mode: "notify",
      requestedAt: 1,
      state: "discovering",
      boundary: 5,
      settledAt: 6,
      progress: { days: 3, daysTotal: 9, merged: 2, eventsRead: 7, notifications: 1 },
      updatedAt: 8,
      rev: 4,
    });
    await table().put([added], { backfill: { mode: "notify" } });
    const job = await table().backfills.get(counterKey(added));
    expect(job).toMatchObject({ state: "discovering", boundary: 5, rev: 4 });
  });

  it("refuses a stored job it cannot read, naming the field", async () => {
    const fake = fakeTable();
    seed(fake, {
      pk: "backfill",
      sk: "k#1",
      ruleId: "r",
      mode: "loud",
      requestedAt: 1,
      state: "done",
      updatedAt: 1,
      rev: 1,
    });
    await expect(table().backfills.list()).rejects.toThrow(/backfill "k#1": mode is not/);
  });
});

describe("remove", () => {
  it("deletes the rule item and tells whether it existed; its counter key stays", async () => {
    const fake = fakeTable();
    await table().put([rule("a")]);
    ddb.resetHistory();

    expect(await table().remove("a")).toBe(true);
    expect(await table().remove("a")).toBe(false);
    expect(ddb.commandCalls(DeleteCommand)[0]?.args[0].input).toEqual({
      TableName: TABLE,
      Key: { pk: "rule", sk: "a" },
      ReturnValues: "ALL_OLD",
    });
    expect([...fake.items.values()]).toEqual([{ pk: "counterKey", sk: counterKey(rule("a")), ruleId: "a" }]);
  });
});

describe("counter key registry", () => {
  it("lists every registered key page by page", async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ pk: "counterKey", sk: "a#AAAAAAAAAAAA", ruleId: "a" }],
        LastEvaluatedKey: { pk: "counterKey", sk: "a#AAAAAAAAAAAA" },
      })
      .resolvesOnce({ Items: [{ pk: "counterKey", sk: "b#c#BBBBBBBBBBBB" }] });

    expect(await table().listCounterKeys()).toEqual([
      { counterKey: "a#AAAAAAAAAAAA", ruleId: "a" },
      { counterKey: "b#c#BBBBBBBBBBBB", ruleId: "b#c" },
    ]);
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input)).toEqual([
      queryInput("counterKey"),
      queryInput("counterKey", "a#AAAAAAAAAAAA"),
    ]);
  });

  it("forgets one key", async () => {
    ddb.on(DeleteCommand).resolves({});
    await table().forgetCounterKey("a#AAAAAAAAAAAA");
    expect(ddb.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE, Key: { pk: "counterKey", sk: "a#AAAAAAAAAAAA" } },
    ]);
  });
});

describe("closing decisions", () => {
  // The stored shape is deployed: `{ pk: "decided", sk: counter key, decidedAt }`; a claim adds
  // `owner` and `leaseUntil` while a run decides.
  const run = { id: "run-1", deadline: NOW + 60_000 };
  const conditionFailed = () => new ConditionalCheckFailedException({ message: "failed", $metadata: {} });

  it("claims a free decision, records it while holding the claim, and forgets it", async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});
    const { decisions } = table();

    expect(await decisions.claim("a#AAAAAAAAAAAA", run, NOW)).toBe("claimed");
    expect(await decisions.record("a#AAAAAAAAAAAA", run, NOW)).toBe(true);
    await decisions.forget("a#AAAAAAAAAAAA");

    expect(ddb.commandCalls(PutCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        Item: { pk: "decided", sk: "a#AAAAAAAAAAAA", owner: "run-1", leaseUntil: NOW + 60_000 },
        ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now",
        ExpressionAttributeValues: { ":now": NOW },
      },
      {
        TableName: TABLE,
        Item: { pk: "decided", sk: "a#AAAAAAAAAAAA", decidedAt: UPDATED_AT },
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": "run-1" },
      },
    ]);
    expect(ddb.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: TABLE, Key: { pk: "decided", sk: "a#AAAAAAAAAAAA" } },
    ]);
  });

  it.each([
    ["decided", { pk: "decided", sk: "a#AAAAAAAAAAAA", decidedAt: UPDATED_AT }],
    ["busy", { pk: "decided", sk: "a#AAAAAAAAAAAA", owner: "run-2", leaseUntil: NOW + 1 }],
  ])(
    "says %s when the claim's condition fails, reading the item strongly consistent",
    async (outcome, item) => {
      ddb.on(PutCommand).rejects(conditionFailed());
      ddb.on(GetCommand).resolves({ Item: item });
      expect(await table().decisions.claim("a#AAAAAAAAAAAA", run, NOW)).toBe(outcome);
      expect(ddb.commandCalls(GetCommand).map((call) => call.args[0].input)).toEqual([
        { TableName: TABLE, Key: { pk: "decided", sk: "a#AAAAAAAAAAAA" }, ConsistentRead: true },
      ]);
    },
  );

  it("records nothing and releases nothing for a run that lost its claim", async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    ddb.on(DeleteCommand).rejects(conditionFailed());
    const { decisions } = table();
    expect(await decisions.record("a#AAAAAAAAAAAA", run, NOW)).toBe(false);
    await decisions.release("a#AAAAAAAAAAAA", run);
    expect(ddb.commandCalls(DeleteCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: TABLE,
        Key: { pk: "decided", sk: "a#AAAAAAAAAAAA" },
        ConditionExpression: "#owner = :owner",
        ExpressionAttributeNames: { "#owner": "owner" },
        ExpressionAttributeValues: { ":owner": "run-1" },
      },
    ]);
  });
});
