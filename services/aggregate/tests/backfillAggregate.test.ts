import type { BackfillBoundary, BackfillMode, ReadHistory } from "@pia/aws";
import { HistoryTooLargeError, historyOrder, isLive, parseMessageBody, toEventItem } from "@pia/aws";
import type { Notification, PiaEvent, Rule } from "@pia/core";
import { counterKey, Engine, parseRecord } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeAggregateRecords, type StreamRecord } from "../src/aggregateRecords.js";
import { fakeStore, TEST_RULES, testRule } from "./fakeStore.js";

const rule = testRule;
const RULES = TEST_RULES;

const B = 1_000_000;
const SETTLED = B + 500;

/** A stored event: what ingest wrote, and when. */
interface Stored {
  readonly event: PiaEvent;
  readonly arrivedAt: number;
}

function eventOf(user: string, ts: number, type: string, price: number): PiaEvent {
  const outcome = parseRecord(
    JSON.stringify({
      event_type: type,
      event_timestamp: ts,
      application: { app_id: "app" },
      endpoint: { Id: `ep-${user}`, User: { UserId: user } },
      session: { session_id: `s${ts}-${price}` },
      metrics: type === "purchase" ? { price: price / 100 } : {},
    }),
  );
  if (outcome.kind !== "event") throw new Error("not an event");
  return outcome.event;
}

let sequence = 100;
const record = ({ event, arrivedAt }: Stored): StreamRecord => ({
  eventName: "INSERT",
  sequenceNumber: `1${String(++sequence).padStart(20, "0")}`,
  newImage: JSON.parse(JSON.stringify({ ...toEventItem(event, 2_000_000_000), arrivedAt })),
});

/** Every rule backfilled with boundary B: the backfills a rule set loaded from the table carries. */
function backfilled(mode: BackfillMode): Map<string, BackfillBoundary> {
  return new Map(RULES.map((r) => [counterKey(r), { boundary: B, settledAt: SETTLED, mode }]));
}

function setup(stored: Stored[], mode: BackfillMode, clock: { now: number }) {
  const store = fakeStore();
  const reads: string[] = [];
  const readHistory: ReadHistory = async (pk, eventType, backfill) => {
    reads.push(pk);
    const events = stored
      .filter(({ event, arrivedAt }) => event.eventType === eventType && !isLive(arrivedAt, backfill))
      .filter(({ event }) => `${event.appId.length}:${event.appId}#${event.userId}` === pk)
      .map(({ event }) => event);
    return { events, read: events.length, unreadable: 0 };
  };
  const aggregate = makeAggregateRecords({
    ...store.deps,
    clock: () => clock.now,
    readHistory,
    loadRules: async () => ({ rules: RULES, backfills: backfilled(mode) }),
  });
  const delivered = () => {
    const byId = new Map(
      store.sent.map((message) => [message.id, parseMessageBody(message.body).notification]),
    );
    return [...byId.values()].map(describeNotification).sort();
  };
  return { store, aggregate, delivered, reads };
}

const describeNotification = (n: Notification) => `${n.ruleId}|${n.userId}|${n.at}`;

/**
 * What backfill promises: per (user, rule), the history replayed in time order from empty totals,
 * its firings collapsed into the last one (none when silent), then the live events in stream order.
 */
function expected(stored: readonly Stored[], mode: BackfillMode): string[] {
  const history = stored.filter(({ arrivedAt }) => arrivedAt < B).map(({ event }) => event);
  const live = stored.filter(({ arrivedAt }) => arrivedAt >= B).map(({ event }) => event);
  const engine = new Engine(RULES);
  const fromHistory = [...history].sort(historyOrder).flatMap((event) => engine.apply(event));
  const last = new Map<string, Notification>();
  for (const n of fromHistory) last.set(`${n.ruleId}|${n.userId}`, n);
  const collapsed = mode === "notify" ? [...last.values()] : [];
  const fromLive = live.flatMap((event) => engine.apply(event));
  return [...collapsed, ...fromLive].map(describeNotification).sort();
}

describe("aggregate, backfilled rules", () => {
  it("counts only live arrivals, holds them until settled, then merges the user's history once", async () => {
    const stored: Stored[] = [
      // History: arrived before B (the second has no stamp: stored before stamps, history too).
      { event: eventOf("u1", 10, "pageview", 0), arrivedAt: 100 },
      { event: eventOf("u1", 20, "pageview", 0), arrivedAt: 200 },
      // Live, before settledAt: held.
      { event: eventOf("u1", 30, "pageview", 0), arrivedAt: B + 10 },
      // Live, after settledAt: merged with history and the held one.
      { event: eventOf("u1", 40, "pageview", 0), arrivedAt: SETTLED + 10 },
    ];
    const clock = { now: 0 };
    const { aggregate, store, delivered, reads } = setup(stored, "notify", clock);
    // The stream carries history too (stored before B): not ours to count.
    clock.now = 300;
    const early = await aggregate([record(stored[0] as Stored), record(stored[1] as Stored)]);
    expect(early.counts.history).toBe(4);
    expect(store.counters.size).toBe(0);
    clock.now = B + 20;
    const held = await aggregate([record(stored[2] as Stored)]);
    expect(held.counts.historyMerged).toBe(0);
    expect(delivered()).toEqual([]);
    expect([...store.counters.values()].every((item) => "held" in item)).toBe(true);
    clock.now = SETTLED + 20;
    const merged = await aggregate([record(stored[3] as Stored)]);
    expect(merged.counts.historyMerged).toBe(2);
    expect(reads).toEqual(["3:app#u1", "3:app#u1"]);
    expect(delivered()).toEqual(expected(stored, "notify"));
    expect([...store.counters.values()].some((item) => "held" in item)).toBe(false);
  });

  it("silent: history firings are recorded, not notified; live firings are", async () => {
    const stored: Stored[] = [
      { event: eventOf("u1", 1, "pageview", 0), arrivedAt: 1 },
      { event: eventOf("u1", 2, "pageview", 0), arrivedAt: 2 },
      { event: eventOf("u1", 3, "pageview", 0), arrivedAt: 3 },
      { event: eventOf("u1", 4, "pageview", 0), arrivedAt: SETTLED + 1 },
      { event: eventOf("u1", 5, "pageview", 0), arrivedAt: SETTLED + 2 },
    ];
    const clock = { now: SETTLED + 5 };
    const { aggregate, delivered } = setup(stored, "silent", clock);
    await aggregate(stored.slice(3).map(record));
    // views fired in history (3 > 2): silent; every-2 fired at 2 (silent, reset), and again live at 4.
    expect(delivered()).toEqual(expected(stored, "silent"));
    expect(delivered()).toEqual([`every-2|u1|${new Date(4).toISOString()}`]);
  });

  it("a held counter that is full leaves its records for a retry, losing nothing", async () => {
    const clock = { now: B + 1 };
    const views = [rule({ id: "views", event: "pageview", count: { op: ">", value: 2 } })];
    const store = fakeStore();
    const aggregate = makeAggregateRecords({
      ...store.deps,
      clock: () => clock.now,
      readHistory: async () => ({ events: [], read: 0, unreadable: 0 }),
      loadRules: async () => ({
        rules: views,
        backfills: new Map([
          [counterKey(views[0] as Rule), { boundary: B, settledAt: SETTLED, mode: "notify" }],
        ]),
      }),
    });
    const many = Array.from({ length: 1001 }, (_, i) => ({
      event: eventOf("u1", i, "pageview", 0),
      arrivedAt: B,
    }));
    const records = many.map(record);
    const first = await aggregate(records);
    expect(first.batchItemFailures).toHaveLength(1001);
    clock.now = SETTLED;
    const retried = await aggregate(records);
    expect(retried.batchItemFailures).toEqual([]);
    expect([...store.counters.values()][0]).toMatchObject({ count: 1001, fired: true });
  });

  it("a history over the limit leaves the user's records for a retry, never counted without it", async () => {
    const clock = { now: SETTLED };
    const store = fakeStore();
    const aggregate = makeAggregateRecords({
      ...store.deps,
      clock: () => clock.now,
      readHistory: async () => {
        throw new HistoryTooLargeError(3);
      },
      loadRules: async () => ({ rules: RULES, backfills: backfilled("notify") }),
    });
    const records = [record({ event: eventOf("u1", 1, "pageview", 0), arrivedAt: SETTLED })];
    const result = await aggregate(records);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: records[0]?.sequenceNumber }]);
    expect(store.counters.size).toBe(0);
  });

  it("equals the engine over history in time order then live in stream order, for any batches and clocks", async () => {
    const spec = fc.record({
      user: fc.constantFrom("a", "b", "c"),
      type: fc.constantFrom("pageview", "purchase"),
      price: fc.integer({ min: -20, max: 30 }),
      ts: fc.integer({ min: 1, max: 50 }),
      phase: fc.constantFrom("history", "history", "held", "live"),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(spec, { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }),
        fc.constantFrom<BackfillMode>("notify", "silent"),
        async (specs, cuts, mode) => {
          // Arrival order follows the phases; every user ends with a live pageview after settling,
          // so that aggregate merges every user (the job merges the others).
          const order = { history: 0, held: 1, live: 2 } as const;
          const sorted = [...specs].sort((a, b) => order[a.phase] - order[b.phase]);
          const stored: Stored[] = sorted.map((s, i) => ({
            event: eventOf(s.user, s.ts, s.type, s.price + i * 1000),
            arrivedAt: s.phase === "history" ? i : s.phase === "held" ? B + i : SETTLED + i,
          }));
          for (const [i, user] of ["a", "b", "c"].entries()) {
            stored.push({ event: eventOf(user, 60 + i, "pageview", 0), arrivedAt: SETTLED + 100 + i });
            stored.push({ event: eventOf(user, 70 + i, "purchase", 7), arrivedAt: SETTLED + 200 + i });
          }
          const clock = { now: 0 };
          const { aggregate, delivered } = setup(stored, mode, clock);
          let start = 0;
          for (let i = 0; start < stored.length; i++) {
            const batch = stored.slice(start, start + (cuts[i % cuts.length] ?? 1));
            // Processed when its last record arrived; every other batch delivered twice.
            clock.now = Math.max(...batch.map(({ arrivedAt }) => arrivedAt)) + 1;
            const records = batch.map(record);
            await aggregate(records);
            if (i % 2 === 0) await aggregate(records);
            start += batch.length;
          }
          expect(delivered()).toEqual(expected(stored, mode));
        },
      ),
      { numRuns: 150 },
    );
  });
});
