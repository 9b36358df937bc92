import { isRollingItem, parseMessageBody, type RollingItem } from "@pia/aws";
import type { Notification, Rule } from "@pia/core";
import { Engine } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAggregateRecords } from "../src/aggregateRecords.js";
import { fakeStore, feedInCuts, streamRecords } from "./fakeStore.js";

const MIN = 60_000;
const T0 = Date.parse("2021-03-01T00:00:00Z");

const rolling = (spec: Partial<Rule> & Pick<Rule, "id">): Rule => ({
  event: "pageview",
  count: { op: ">", value: 2 },
  window: { last: "1h" },
  action: { type: "attribute", name: spec.id, value: "Ready" },
  reset: false,
  enabled: true,
  ...spec,
});

const line = (user: string, ts: number, type = "pageview", metrics: Record<string, number> = {}) =>
  JSON.stringify({
    event_type: type,
    event_timestamp: ts,
    application: { app_id: "app" },
    endpoint: { Id: `ep-${user}`, User: { UserId: user } },
    session: { session_id: `s${ts}-${Math.random()}` },
    metrics,
  });

const text = (n: Notification) =>
  `${n.ruleId}|${n.userId}|${n.at}|${n.seq}|${n.type === "attribute" ? JSON.stringify(n.value) : n.name}`;

function setup(rules: Rule[]) {
  const store = fakeStore();
  const aggregate = makeAggregateRecords({ ...store.deps, loadRules: async () => rules });
  /** The notifier's view: one delivery per id, as text lines, sorted. */
  const delivered = () => {
    const byId = new Map(store.sent.map((message) => [message.id, parseMessageBody(message.body)]));
    return [...byId.values()].map(({ notification }) => text(notification)).sort();
  };
  const summaries = () => [...store.counters.values()].filter(isRollingItem);
  const summary = (ruleId: string) => summaries().find((item) => item.ruleId === ruleId) as RollingItem;
  return { store, aggregate, delivered, summary };
}

const at = (minutes: number) => new Date(T0 + minutes * MIN).toISOString();

describe("aggregate: rolling windows", () => {
  it("enters on the event that makes the condition true and exits by a later event, stamped at the expiry", async () => {
    const { store, aggregate, delivered, summary } = setup([rolling({ id: "busy" })]);
    await aggregate(streamRecords([0, 10, 20].map((m) => line("u1", T0 + m * MIN))));
    expect(delivered()).toEqual([`busy|u1|${at(20)}|1|"Ready"`]);
    expect(summary("busy")).toMatchObject({ count: 3, in: true, w: T0 + 20 * MIN, notified: 1 });
    expect(summary("busy").dueAt).toBe(T0 + 60 * MIN);
    expect(summary("busy").dueShard).toMatch(/^due#\d+$/);
    // The next event, 90 minutes in: the three expiries before it are decided first.
    await aggregate(streamRecords([line("u1", T0 + 90 * MIN)]));
    expect(delivered()).toEqual([`busy|u1|${at(20)}|1|"Ready"`, `busy|u1|${at(60)}|2|""`]);
    expect(summary("busy")).toMatchObject({ count: 1, in: false, w: T0 + 90 * MIN, notified: 2 });
    const messages = store.sent.map((message) => parseMessageBody(message.body));
    // One order stream per state, and the seq of each notification.
    expect(new Set(messages.map((message) => message.order?.stream)).size).toBe(1);
    expect(messages.map((message) => message.order?.seq)).toEqual([1, 2]);
  });

  it("counts a late event at w, and ignores a too-late one (no window item either)", async () => {
    const { store, aggregate, delivered, summary } = setup([rolling({ id: "busy" })]);
    await aggregate(streamRecords([line("u1", T0 + 100 * MIN), line("u1", T0 + 110 * MIN)]));
    const items = store.windowTable.items.size;
    // 30 minutes late: counted (3 > 2), decided at w = 110.
    await aggregate(streamRecords([line("u1", T0 + 80 * MIN)]));
    expect(delivered()).toEqual([`busy|u1|${at(110)}|1|"Ready"`]);
    expect(store.windowTable.items.size).toBe(items + 1);
    // 60 minutes late (at w - L): it would already have expired; nothing counts, nothing stored.
    await aggregate(streamRecords([line("u1", T0 + 50 * MIN)]));
    expect(summary("busy")).toMatchObject({ count: 3, w: T0 + 110 * MIN });
    expect(store.windowTable.items.size).toBe(items + 1);
    expect(delivered()).toHaveLength(1);
  });

  it("orders an entry and an exit of the same instant by seq", async () => {
    const exactlyOne = rolling({ id: "one", count: { op: "=", value: 1 } });
    const { aggregate, delivered } = setup([exactlyOne]);
    await aggregate(streamRecords([line("u1", T0), line("u1", T0)]));
    expect(delivered()).toEqual([`one|u1|${at(0)}|1|"Ready"`, `one|u1|${at(0)}|2|""`]);
  });

  it("a reset empties the window: the emptied items are neither written nor counted again", async () => {
    const streak = rolling({
      id: "streak",
      count: { op: ">=", value: 2 },
      reset: true,
      action: { type: "event", name: "trk_streak" },
    });
    const { store, aggregate, delivered, summary } = setup([streak]);
    const records = streamRecords([0, 10, 20, 30, 40].map((m) => line("u1", T0 + m * MIN)));
    await aggregate(records.slice(0, 3));
    expect(summary("streak")).toMatchObject({
      count: 1,
      emptied: records[1]?.sequenceNumber.padStart(40, "0"),
    });
    // Only the event after the reset has a window item.
    expect(store.windowTable.items.size).toBe(1);
    await aggregate(records.slice(3));
    expect(delivered()).toEqual([`streak|u1|${at(10)}|1|trk_streak`, `streak|u1|${at(30)}|2|trk_streak`]);
    expect(summary("streak")).toMatchObject({ count: 1, notified: 2 });
  });

  it("applies redelivered records once, and rewrites nothing new", async () => {
    const { store, aggregate, delivered } = setup([rolling({ id: "busy" })]);
    const records = streamRecords([0, 10, 20, 90].map((m) => line("u1", T0 + m * MIN)));
    await aggregate(records.slice(0, 3));
    await aggregate(records);
    await aggregate(records.slice(1));
    expect(delivered()).toEqual([`busy|u1|${at(20)}|1|"Ready"`, `busy|u1|${at(60)}|2|""`]);
    expect(store.sent).toHaveLength(2);
    expect(store.windowTable.items.size).toBe(4);
  });

  it("redoes a batch from a fresh read when another writer changed the state in between", async () => {
    const { store, aggregate, delivered, summary } = setup([rolling({ id: "busy" })]);
    await aggregate(streamRecords([0, 10].map((m) => line("u1", T0 + m * MIN))));
    // Another writer (the schedule) bumps the state between our read and our write.
    store.faults.beforeWrite = async () => {
      for (const [key, item] of store.counters) store.counters.set(key, { ...item, rev: item.rev + 1 });
    };
    const result = await aggregate(streamRecords([line("u1", T0 + 20 * MIN)]));
    expect(result.batchItemFailures).toEqual([]);
    expect(delivered()).toEqual([`busy|u1|${at(20)}|1|"Ready"`]);
    expect(summary("busy")).toMatchObject({ count: 3, rev: 4 });
  });

  it("keeps a heavy user's state small: 5,000 events in one window, a fixed-size summary", async () => {
    const { store, aggregate, delivered, summary } = setup([
      rolling({ id: "heavy", count: { op: ">", value: 4_000 }, window: { last: "7d" } }),
    ]);
    const sizes: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const lines = Array.from({ length: 500 }, (_, i) => line("u1", T0 + (batch * 500 + i) * MIN));
      store.windowTable.queries.length = 0;
      await aggregate(streamRecords(lines));
      // Nothing expires within the week: a query of what could expire (empty), and one page (3 here)
      // at the start of the window.
      expect(store.windowTable.queries.length).toBeLessThanOrEqual(2);
      expect(store.windowTable.queries.reduce((sum, query) => sum + query.read, 0)).toBeLessThanOrEqual(3);
      sizes.push(JSON.stringify(summary("heavy")).length);
    }
    expect(summary("heavy").count).toBe(5_000);
    expect(Math.max(...sizes)).toBeLessThan(1_200);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(120);
    expect(delivered()).toEqual([`heavy|u1|${at(4_000)}|1|"Ready"`]);
    for (const item of store.windowTable.items.values())
      expect(JSON.stringify(item).length).toBeLessThan(300);
  });

  it("gives the engine's notifications for any split of the stream into batches, with re-deliveries", async () => {
    const rules = [
      rolling({ id: "busy" }),
      rolling({ id: "lapsed", count: { op: "=", value: 0 }, window: { last: "2h" } }),
      rolling({ id: "few", count: { op: "<", value: 2 }, sum: { metric: "m", op: ">=", value: "1" } }),
      rolling({
        id: "streak",
        count: { op: ">=", value: 3 },
        reset: true,
        window: { last: "3h" },
        action: { type: "event", name: "trk_streak" },
      }),
    ];
    const spec = fc.record({
      user: fc.constantFrom("a", "b"),
      minute: fc.integer({ min: 0, max: 8 * 60 }),
      m: fc.integer({ min: -1, max: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 8 }),
        async (specs, cuts) => {
          const lines = specs.map(({ user, minute, m }) => line(user, T0 + minute * MIN, "pageview", { m }));
          const engine = new Engine(rules);
          const expected = lines
            .flatMap((l) => engine.ingest(l))
            .map(text)
            .sort();
          const { aggregate, delivered } = setup(rules);
          await feedInCuts(aggregate, streamRecords(lines), cuts);
          expect(delivered()).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });
});
