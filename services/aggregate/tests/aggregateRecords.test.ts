import { parseMessageBody } from "@pia/aws";
import type { Notification, Rule } from "@pia/core";
import { Engine } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAggregateRecords } from "../src/aggregateRecords.js";
import { fakeStore, feedInCuts, streamRecords, TEST_RULES, testRule } from "./fakeStore.js";

const rule = testRule;

const line = (user: string, ts: number, type = "pageview", metrics: Record<string, number> = {}) =>
  JSON.stringify({
    event_type: type,
    event_timestamp: ts,
    application: { app_id: "app" },
    endpoint: { Id: `ep-${user}`, User: { UserId: user } },
    session: { session_id: `s${ts}` },
    metrics,
  });

const RULES = TEST_RULES;

function setup(rules: readonly Rule[] = RULES) {
  const store = fakeStore();
  const aggregate = makeAggregateRecords({ ...store.deps, loadRules: async () => rules });
  const delivered = () => {
    // The notifier's view: one delivery per id.
    const byId = new Map(
      store.sent.map((message) => [message.id, parseMessageBody(message.body).notification]),
    );
    return [...byId.values()].map((n) => `${n.ruleId}|${n.userId}|${n.at}`).sort();
  };
  return { store, aggregate, delivered };
}

const iso = (ms: number) => new Date(ms).toISOString();

describe("aggregateRecords", () => {
  it("fires streaming rules on running totals, with exact decimal sums", async () => {
    const { aggregate, delivered } = setup();
    const records = streamRecords([
      line("u1", 1),
      line("u1", 2),
      line("u1", 3),
      line("u2", 4, "purchase", { price: 0.1 }),
      line("u2", 5, "purchase", { price: 0.2 }),
    ]);
    const result = await aggregate(records);
    expect(result.batchItemFailures).toEqual([]);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `spend|u2|${iso(5)}`, `views|u1|${iso(3)}`]);
  });

  it("runs a stored rolling rule as a window, beside the others (not as a lifetime rule)", async () => {
    const rolling = rule({
      id: "rolling",
      event: "pageview",
      count: { op: ">", value: 0 },
      window: { last: "1h" },
    });
    const { store, aggregate, delivered } = setup([rolling, ...RULES]);
    const result = await aggregate(streamRecords([line("u1", 1), line("u1", 2), line("u1", 3)]));
    expect(result.batchItemFailures).toEqual([]);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `rolling|u1|${iso(1)}`, `views|u1|${iso(3)}`]);
    expect([...store.counters.values()].map((item) => item.ruleId).sort()).toEqual([
      "every-2",
      "rolling",
      "views",
    ]);
  });

  it("applies a re-delivered batch, or its tail, only once", async () => {
    const { store, aggregate, delivered } = setup();
    const records = streamRecords([1, 2, 3, 4, 5].map((ts) => line("u1", ts)));
    await aggregate(records.slice(0, 3));
    await aggregate(records);
    await aggregate(records.slice(2));
    await aggregate(records);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `every-2|u1|${iso(4)}`, `views|u1|${iso(3)}`]);
    expect(store.sent).toHaveLength(3);
    const views = [...store.counters.values()].find((item) => item.ruleId === "every-2");
    expect(views).toMatchObject({ count: 1 });
  });

  it("a crash between the counter write and the send: the retry sends the pending message once", async () => {
    const { store, aggregate, delivered } = setup();
    const records = streamRecords([1, 2, 3].map((ts) => line("u1", ts)));
    store.faults.failSendOnce = true;
    await expect(aggregate(records)).rejects.toThrow(/injected/);
    expect(store.sent).toHaveLength(0);
    expect([...store.counters.values()].some((item) => (item.pending ?? []).length > 0)).toBe(true);
    await aggregate(records);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `views|u1|${iso(3)}`]);
    expect(store.sent).toHaveLength(2);
    expect([...store.counters.values()].every((item) => item.pending === undefined)).toBe(true);
  });

  it("a crash after the send, before the clear: the repeat carries the same id", async () => {
    const { store, aggregate, delivered } = setup();
    const records = streamRecords([1, 2, 3].map((ts) => line("u1", ts)));
    store.faults.failClearOnce = true;
    await expect(aggregate(records)).rejects.toThrow(/injected/);
    await aggregate(records);
    expect(store.sent).toHaveLength(4);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `views|u1|${iso(3)}`]);
  });

  // DynamoDB Streams hands a user's records (one partition key, one shard) to one invocation at a
  // time, in order; the race that remains is a retry overlapping a still-running invocation.
  it.each([
    { name: "the same batch", first: [0, 2], second: [0, 2] },
    { name: "a longer retry of it", first: [0, 2], second: [0, 4] },
    { name: "a shorter one", first: [0, 4], second: [0, 2] },
  ])("two invocations racing on one user stay exact: $name", async ({ first, second }) => {
    const { store, aggregate, delivered } = setup();
    const records = streamRecords([1, 2, 3, 4].map((ts) => line("u1", ts)));
    // The second invocation writes between the first one's read and write.
    store.faults.beforeWrite = async () => {
      await aggregate(records.slice(second[0], second[1]));
    };
    await aggregate(records.slice(first[0], first[1]));
    await aggregate(records);
    const everyTwo = [...store.counters.values()].find((item) => item.ruleId === "every-2");
    expect(everyTwo).toMatchObject({ count: 0, sum: "0" });
    expect(store.sent.length).toBeGreaterThanOrEqual(3);
    expect(delivered()).toEqual([`every-2|u1|${iso(2)}`, `every-2|u1|${iso(4)}`, `views|u1|${iso(3)}`]);
  });

  it("counts MODIFY, REMOVE and foreign items without applying them", async () => {
    const { aggregate } = setup();
    const [good] = streamRecords([line("u1", 1)]);
    const result = await aggregate([
      { eventName: "MODIFY", sequenceNumber: "900", newImage: good?.newImage ?? {} },
      { eventName: "REMOVE", sequenceNumber: "901" },
      { eventName: "INSERT", sequenceNumber: "902", newImage: { pk: "x", sk: "y" } },
    ]);
    expect(result.counts).toMatchObject({ records: 3, applied: 0, notInsert: 2, badItem: 1 });
    expect(result.batchItemFailures).toEqual([]);
  });

  it("gives the engine's notifications for any split of the stream into batches, with re-deliveries", async () => {
    const lineArb = fc
      .record({
        user: fc.constantFrom("a", "b", "c"),
        type: fc.constantFrom("pageview", "purchase"),
        price: fc.integer({ min: 0, max: 30 }),
      })
      .map(({ user, type, price }) => ({ user, type, price }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 10 }),
        async (specs, cuts) => {
          const lines = specs.map((spec, index) =>
            line(
              spec.user,
              index + 1,
              spec.type,
              spec.type === "purchase" ? { price: spec.price / 100 } : {},
            ),
          );
          const engine = new Engine(RULES);
          const expected = lines
            .flatMap((text) => engine.ingest(text))
            .map((n: Notification) => `${n.ruleId}|${n.userId}|${n.at}`)
            .sort();
          const { aggregate, delivered } = setup();
          await feedInCuts(aggregate, streamRecords(lines), cuts);
          expect(delivered()).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("routing", () => {
  it("carries the rule's own sink on its messages", async () => {
    const routed = rule({
      id: "routed",
      event: "pageview",
      count: { op: ">=", value: 1 },
      action: { type: "attribute", name: "r", value: "Ready", sink: "webhook" },
    });
    const { store, aggregate } = setup([routed, RULES[0] as Rule]);
    await aggregate(streamRecords([1, 2, 3].map((ts) => line("u9", ts))));
    const sinks = store.sent.map((message) => [
      parseMessageBody(message.body).notification.ruleId,
      parseMessageBody(message.body).sink,
    ]);
    expect(sinks.sort()).toEqual([
      ["routed", "webhook"],
      ["views", undefined],
    ]);
  });
});
