import type { BackfillJob, CounterItem, EventItem, HeldMatch } from "@pia/aws";
import {
  fromEventItem,
  HistoryTooLargeError,
  isLive,
  NO_PROGRESS,
  newBackfillJob,
  notificationId,
  parseMessageBody,
  toEventItem,
  typeDayKey,
} from "@pia/aws";
import type { CounterRule, PiaEvent, Rule } from "@pia/core";
import { compileRule, counterKey, DAY_MS } from "@pia/core";
import { describe, expect, it } from "vitest";
import type { Page } from "../src/ports.js";
import { type BackfillSettings, dayAt, daysToRead, makeRunBackfills } from "../src/runBackfills.js";

const buyer: Rule = {
  id: "buyer",
  event: "purchase",
  count: { op: ">=", value: 2 },
  action: { type: "attribute", name: "buyer", value: "Ready" },
  reset: false,
  enabled: true,
};
const KEY = counterKey(buyer);
const T0 = Date.parse("2024-06-01T12:00:00Z");
const SETTINGS: BackfillSettings = {
  liveDelayMs: 120_000,
  settleMs: 120_000,
  sweepMarginMs: 60_000,
  eventRetentionDays: 30,
};
const B = T0 + SETTINGS.liveDelayMs;
const SETTLED = B + SETTINGS.settleMs;
const SWEEP_AT = SETTLED + SETTINGS.sweepMarginMs;

function event(user: string, n: number, at: number, type = "purchase"): PiaEvent {
  return {
    identity: `${user}-${type}-${n}`,
    appId: "app",
    userId: user,
    eventType: type,
    timestamp: at,
    attributes: {},
    metrics: [],
  };
}

const pkOf = (user: string) => `3:app#${user}`;

interface Stored {
  readonly item: EventItem & { arrivedAt?: number };
}

/** The job's ports, in memory, with the DynamoDB semantics the job relies on. */
function world(options: { rules?: Rule[]; pageSize?: number; mode?: "notify" | "silent" } = {}) {
  let now = T0;
  const rules = options.rules ?? [buyer];
  const pageSize = options.pageSize ?? 100;
  const jobs = new Map<string, BackfillJob>();
  const events: Stored[] = [];
  const counters = new Map<string, CounterItem>();
  const sent: { id: string; body: string }[] = [];
  const starts: (Record<string, unknown> | undefined)[] = [];
  const faults = {
    /** Before the n-th counter write (1-based), another writer holds one more live match. */
    conflictAtWrite: 0,
    /** The n-th counter write throws (a crash). */
    crashAtWrite: 0,
    /** The next job save finds the job moved by another run. */
    moveJobOnSave: false,
    /** Advance the clock by this much on every counter read (a slow run). */
    readCostMs: 0,
    /** Users whose history is over the limit. */
    tooLarge: new Set<string>(),
  };
  let writes = 0;
  const log = { info: () => {}, warn: () => {}, error: () => {} };

  const store = (e: PiaEvent, arrivedAt: number | undefined, indexed = true) => {
    const item = toEventItem(e, 2_000_000_000, { typeDay: indexed });
    events.push({ item: arrivedAt === undefined ? item : { ...item, arrivedAt } });
  };
  const page = <T>(all: readonly T[], start: Record<string, unknown> | undefined): Page<T> => {
    const from = start === undefined ? 0 : Number(start.i);
    const next = from + pageSize;
    return { items: all.slice(from, next), ...(next < all.length ? { next: { i: next } } : {}) };
  };

  const run = makeRunBackfills({
    loadRules: async () => rules,
    jobs: {
      list: async () => [...jobs.values()],
      save: async (job) => {
        if (faults.moveJobOnSave) {
          faults.moveJobOnSave = false;
          const stored = jobs.get(job.counterKey) as BackfillJob;
          jobs.set(job.counterKey, { ...stored, rev: stored.rev + 1 });
          return false;
        }
        if (jobs.get(job.counterKey)?.rev !== job.rev - 1) return false;
        jobs.set(job.counterKey, job);
        return true;
      },
      remove: async (key) => void jobs.delete(key),
    },
    async usersOfDay(typeDay, start) {
      starts.push(start);
      // A job that forgets its place would read the same page forever (microtasks: no timeout).
      if (starts.length > 1000) throw new Error("runaway: the job keeps reading the index");
      const items = events
        .map(({ item }) => item)
        .filter((item) => item.typeDay === typeDay)
        .sort((a, b) => (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0));
      return page(
        items.map(({ pk, appId, userId }) => ({ pk, appId, userId })),
        start,
      );
    },
    async heldCounters(key, start) {
      return page(
        [...counters.values()].filter((item) => item.counterKey === key && item.held !== undefined),
        start,
      );
    },
    async readCounter({ pk, sk }) {
      now += faults.readCostMs;
      const item = counters.get(pk + sk);
      return item === undefined ? undefined : structuredClone(item);
    },
    async writeCounter(item, expectedRev) {
      writes++;
      if (writes === faults.crashAtWrite) throw new Error("injected: crash");
      const stored = counters.get(item.pk + item.sk);
      if (writes === faults.conflictAtWrite) {
        // Aggregate holds one more live match meanwhile (before settledAt it only holds).
        const held: HeldMatch = { at: T0 + 1, seq: "9".repeat(40) };
        counters.set(item.pk + item.sk, {
          pk: item.pk,
          sk: item.sk,
          counterKey: item.sk,
          ruleId: item.ruleId,
          appId: item.appId,
          userId: item.userId,
          count: 0,
          sum: "0",
          fired: false,
          seq: held.seq,
          rev: (stored?.rev ?? 0) + 1,
          held: [...(stored?.held ?? []), held],
        });
        return false;
      }
      if (expectedRev === undefined ? stored !== undefined : stored?.rev !== expectedRev) return false;
      counters.set(item.pk + item.sk, structuredClone(item));
      return true;
    },
    async readHistory(pk, eventType, backfill) {
      if (faults.tooLarge.has(pk)) throw new HistoryTooLargeError(3);
      const items = events.map(({ item }) => item).filter((item) => item.pk === pk);
      return {
        events: items
          .filter((item) => item.eventType === eventType && !isLive(item.arrivedAt, backfill))
          .map(fromEventItem),
        read: items.length,
        unreadable: 0,
      };
    },
    async sendMessages(messages) {
      sent.push(...messages);
    },
    async clearPending(list) {
      for (const { key, rev } of list) {
        const stored = counters.get(key.pk + key.sk);
        if (stored === undefined || stored.rev !== rev) continue;
        const { pending: _, ...rest } = stored;
        counters.set(key.pk + key.sk, { ...rest, rev: rev + 1 });
      }
    },
    clock: () => now,
    settings: SETTINGS,
    log,
  });

  const request = (rule: Rule = buyer, mode = options.mode ?? "notify") =>
    jobs.set(counterKey(rule), newBackfillJob(counterKey(rule), rule.id, { mode }, now));
  const job = (key = KEY) => jobs.get(key) as BackfillJob;
  const counter = (user: string, key = KEY) => counters.get(pkOf(user) + key);
  return {
    jobs,
    counters,
    sent,
    starts,
    faults,
    store,
    request,
    job,
    counter,
    run: (deadline = Number.MAX_SAFE_INTEGER) => run(deadline),
    at: (t: number) => {
      now = t;
    },
    now: () => now,
  };
}

/** Stores `user`'s history (arrived long before the boundary) on the day before T0. */
function history(w: ReturnType<typeof world>, user: string, count: number, indexed = true) {
  for (let n = 0; n < count; n++)
    w.store(event(user, n, T0 - DAY_MS + n * 1000), T0 - DAY_MS + n * 1000 + 5, indexed);
}

describe("daysToRead", () => {
  const compiled = (rule: Rule) => compileRule(rule) as CounterRule;
  it("reads a lifetime rule's days from the table's retention to the day after settledAt", () => {
    const days = daysToRead(compiled(buyer), SETTLED, SWEEP_AT, 30);
    expect(days).toEqual({ from: "2024-05-02", count: 32 });
    expect(dayAt(days.from, days.count - 1)).toBe("2024-06-02");
  });

  it("clips a date window's days to that range, and reads nothing for a window outside it", () => {
    const windowed = (from: string, to: string) => compiled({ ...buyer, window: { from, to } });
    expect(daysToRead(windowed("2024-05-20", "2024-05-22"), SETTLED, SWEEP_AT, 30)).toEqual({
      from: "2024-05-20",
      count: 3,
    });
    expect(daysToRead(windowed("2024-01-01", "2024-12-31"), SETTLED, SWEEP_AT, 30)).toEqual({
      from: "2024-05-02",
      count: 32,
    });
    expect(daysToRead(windowed("2023-01-01", "2023-01-31"), SETTLED, SWEEP_AT, 30).count).toBe(0);
  });
});

describe("runBackfills", () => {
  it("sets the boundary only once the rule is stored, then waits for settledAt and the margin", async () => {
    const w = world({ rules: [] });
    w.request();
    expect(await w.run()).toMatchObject({ jobsAdvanced: 0 });
    expect(w.job().state).toBe("requested");

    const v = world();
    v.request();
    expect(await v.run()).toMatchObject({ jobsAdvanced: 1 });
    expect(v.job()).toMatchObject({ state: "settling", boundary: B, settledAt: SETTLED, rev: 2 });

    v.at(SWEEP_AT - 1);
    expect(await v.run()).toMatchObject({ jobsAdvanced: 0 });
    expect(v.job().state).toBe("settling");
  });

  it("removes a job whose counting has had no rule for more than a day, and keeps it until then", async () => {
    const w = world({ rules: [] });
    w.request();
    w.at(T0 + DAY_MS);
    expect(await w.run()).toMatchObject({ jobsRemoved: 0 });
    expect(w.jobs.size).toBe(1);
    w.at(T0 + DAY_MS + 1);
    expect(await w.run()).toMatchObject({ jobsRemoved: 1 });
    expect(w.jobs.size).toBe(0);
  });

  it("merges each user's history found by day, skips merged counters, sweeps held ones, and is done", async () => {
    const w = world();
    history(w, "two", 2); // qualifies from history alone: one notification
    history(w, "one", 1); // counted, not notified
    history(w, "merged", 3); // aggregate merged it already (no `held`): left alone
    history(w, "unindexed", 1, false); // not in the index, but holds a live match: the sweep merges it
    w.store(event("two", 9, T0 + 1), B + 1); // live (arrived at or after B): never history
    w.request();
    await w.run();
    const merged: CounterItem = {
      pk: pkOf("merged"),
      sk: KEY,
      counterKey: KEY,
      ruleId: "buyer",
      appId: "app",
      userId: "merged",
      count: 7,
      sum: "0",
      fired: true,
      seq: "0".repeat(40),
      rev: 4,
    };
    w.counters.set(merged.pk + KEY, merged);
    w.counters.set(pkOf("unindexed") + KEY, {
      ...merged,
      pk: pkOf("unindexed"),
      userId: "unindexed",
      count: 0,
      fired: false,
      rev: 1,
      seq: "5".repeat(40),
      held: [{ at: B + 10, seq: "5".repeat(40) }],
    });

    w.at(SWEEP_AT);
    const counts = await w.run();
    expect(w.job()).toMatchObject({
      state: "done",
      finishedAt: SWEEP_AT,
      progress: { days: 32, daysTotal: 32, merged: 3, notifications: 2 },
    });
    expect(w.job().cursor).toBeUndefined();
    expect(counts).toMatchObject({ jobsAdvanced: 1, usersMerged: 3, notifications: 2 });
    expect(w.counter("two")).toMatchObject({ count: 2, fired: true });
    expect(w.counter("two")?.held).toBeUndefined();
    expect(w.counter("one")).toMatchObject({ count: 1, fired: false });
    expect(w.counter("merged")).toStrictEqual(merged);
    expect(w.counter("unindexed")).toMatchObject({ count: 2, fired: true });
    expect(w.counter("unindexed")?.held).toBeUndefined();
    const notified = w.sent.map((m) => parseMessageBody(m.body).notification.userId).sort();
    expect(notified).toEqual(["two", "unindexed"]);
    // The history's firing has its own id per counter; the held (live) match's is by its sequence.
    expect(w.sent.map((m) => m.id)).toContain(notificationId({ pk: pkOf("two"), sk: KEY }, "history"));
    expect([...w.counters.values()].every((item) => (item.pending ?? []).length === 0)).toBe(true);
    // Done: later runs leave it.
    expect(await w.run()).toMatchObject({ jobsAdvanced: 0, usersMerged: 0 });
  });

  it("resumes a crashed run at the page it saved, without merging or notifying anyone twice", async () => {
    const w = world({ pageSize: 1 });
    for (const user of ["a", "b", "c"]) history(w, user, 2);
    w.request();
    await w.run();
    w.at(SWEEP_AT);
    w.faults.crashAtWrite = 3;
    await expect(w.run()).rejects.toThrow(/injected: crash/);
    const saved = w.job();
    expect(saved).toMatchObject({ state: "discovering", progress: { merged: 2, notifications: 2 } });
    // Each user has 2 events on the day (pages of one item): the cursor is past a's and b's items.
    const cursor = JSON.parse(saved.cursor as string);
    expect(cursor).toMatchObject({ from: "2024-05-02", day: 29, key: { i: 4 } });
    expect(w.counter("c")).toBeUndefined();

    const before = w.starts.length;
    await w.run();
    expect(w.starts[before]).toEqual({ i: 4 });
    expect(w.job()).toMatchObject({ state: "done", progress: { merged: 3, notifications: 3 } });
    expect(w.sent.map((m) => parseMessageBody(m.body).notification.userId).sort()).toEqual(["a", "b", "c"]);
    expect(w.counter("c")).toMatchObject({ count: 2, fired: true });
  });

  it("re-reads and redoes a counter that another writer changed, keeping what it holds", async () => {
    const w = world();
    history(w, "a", 1);
    w.request();
    await w.run();
    w.at(SWEEP_AT);
    w.faults.conflictAtWrite = 1;
    await w.run();
    // The history's one event and the match aggregate held meanwhile.
    expect(w.counter("a")).toMatchObject({ count: 2, fired: true, seq: "9".repeat(40) });
    expect(w.counter("a")?.held).toBeUndefined();
    expect(w.sent).toHaveLength(1);
  });

  it("skips a user whose history is over the limit, counting it, and finishes the others", async () => {
    const w = world();
    history(w, "huge", 2);
    history(w, "a", 2);
    w.faults.tooLarge.add(pkOf("huge"));
    w.request();
    await w.run();
    w.at(SWEEP_AT);
    expect(await w.run()).toMatchObject({ usersMerged: 1, usersTooLarge: 1 });
    expect(w.job().state).toBe("done");
    expect(w.counter("huge")).toBeUndefined();
    expect(w.counter("a")).toMatchObject({ count: 2, fired: true });
  });

  it("with silent, stores what the history decides but sends none of its firings", async () => {
    const w = world({ mode: "silent" });
    history(w, "a", 3);
    w.request();
    await w.run();
    w.at(SWEEP_AT);
    expect(await w.run()).toMatchObject({ usersMerged: 1, notifications: 0 });
    expect(w.counter("a")).toMatchObject({ count: 3, fired: true });
    expect(w.sent).toEqual([]);
    expect(w.job()).toMatchObject({ state: "done", progress: { notifications: 0 } });
  });

  it("stops working on a job another run moved, and stops at its deadline with its place saved", async () => {
    const w = world({ pageSize: 1 });
    for (const user of ["a", "b", "c"]) history(w, user, 1);
    w.request();
    w.faults.moveJobOnSave = true;
    expect(await w.run()).toMatchObject({ jobsAdvanced: 0 });
    expect(w.job()).toMatchObject({ state: "requested", rev: 2 });
    await w.run();
    expect(w.job().state).toBe("settling");

    w.at(SWEEP_AT);
    // Each counter read costs a minute: the deadline falls inside the second user's page.
    w.faults.readCostMs = 60_000;
    const counts = await w.run(SWEEP_AT + 90_000);
    expect(counts.usersMerged).toBeLessThan(3);
    expect(w.job().state).toBe("discovering");
    w.faults.readCostMs = 0;
    await w.run();
    expect(w.job()).toMatchObject({ state: "done", progress: { merged: 3 } });
    expect(w.sent).toHaveLength(0);
    expect(["a", "b", "c"].map((user) => w.counter(user)?.count)).toEqual([1, 1, 1]);
  });

  it("reads only the window's days for a date-window rule, by the index's typeDay key", async () => {
    const windowed: Rule = { ...buyer, id: "may", window: { from: "2024-05-30", to: "2024-05-31" } };
    const w = world({ rules: [windowed] });
    w.store(event("a", 1, Date.parse("2024-05-30T10:00:00Z")), T0 - 10);
    w.store(event("a", 2, Date.parse("2024-05-31T10:00:00Z")), T0 - 10);
    w.store(event("a", 3, Date.parse("2024-05-20T10:00:00Z")), T0 - 10); // outside the window
    w.request(windowed);
    await w.run();
    w.at(SWEEP_AT);
    await w.run();
    const key = counterKey(windowed);
    expect(w.job(key)).toMatchObject({ state: "done", progress: { days: 2, daysTotal: 2 } });
    expect(w.counter("a", key)).toMatchObject({ count: 2, fired: true });
    expect(typeDayKey("purchase", "2024-05-30")).toBe("purchase#2024-05-30");
  });

  it("starts from NO_PROGRESS and leaves done jobs alone", async () => {
    const w = world();
    w.request();
    expect(w.job().progress).toStrictEqual(NO_PROGRESS);
    w.jobs.set(KEY, { ...w.job(), state: "done" });
    expect(await w.run()).toMatchObject({ jobsAdvanced: 0 });
  });
});
