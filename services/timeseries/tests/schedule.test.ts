import type { BackfillJob, CounterItem } from "@pia/aws";
import { newBackfillJob, parseMessageBody } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey } from "@pia/core";
import { describe, expect, it } from "vitest";
import { makeCleanupRemovedRules } from "../src/cleanupRemovedRules.js";
import { makeDecideClosingRules } from "../src/decideClosingRules.js";
import type { ScheduleRun } from "../src/ports.js";

const closing: Rule = {
  id: "few",
  event: "purchase",
  count: { op: "<", value: 3 },
  window: { from: "2021-01-10", to: "2021-01-20" },
  action: { type: "attribute", name: "few", value: "Ready" },
  reset: false,
  enabled: true,
};
const KEY = counterKey(closing);
const CLOSED = Date.parse("2021-01-21T00:00:00Z");
/** The wall clock claims expire by (not the schedule's time). */
const WALL_CLOCK = Date.parse("2024-06-01T00:00:00Z");

function counter(user: string, count: number, extra: Partial<CounterItem> = {}): CounterItem {
  return {
    pk: `3:app#${user}`,
    sk: KEY,
    counterKey: KEY,
    ruleId: "few",
    appId: "app",
    userId: user,
    count,
    sum: "0",
    fired: false,
    seq: "0".repeat(40),
    rev: 1,
    ...extra,
  };
}

function world(items: CounterItem[], rules: Rule[] = [closing]) {
  const counters = new Map(items.map((item) => [item.pk + item.sk, item]));
  const sent: { id: string; body: string }[] = [];
  const decided = new Set<string>();
  const claims = new Map<string, ScheduleRun>();
  let runs = 0;
  const registry = new Map<string, string>([[KEY, "few"]]);
  const backfills = new Map<string, BackfillJob>();
  const faults = {
    failSend: 0,
    conflictOnce: false,
    loseClaim: false,
    claimResponseLost: false,
    failRelease: 0,
  };
  const log = { info: () => {}, warn: () => {}, error: () => {} };
  const common = {
    loadRules: async () => rules,
    async *countersOfRule(key: string) {
      yield [...counters.values()].filter((item) => item.counterKey === key).map((item) => ({ ...item }));
    },
    decisions: {
      // The rules table's semantics: a claim is taken only when free or past its lease.
      claim: async (key: string, run: ScheduleRun, now: number) => {
        if (decided.has(key)) return "decided" as const;
        const held = claims.get(key);
        if (held !== undefined && held.deadline >= now) return "busy" as const;
        claims.set(key, run);
        if (faults.claimResponseLost) {
          faults.claimResponseLost = false;
          throw new Error("injected: claim written, then reported as failed");
        }
        return "claimed" as const;
      },
      record: async (key: string, run: ScheduleRun) => {
        if (claims.get(key)?.id !== run.id) return false;
        claims.delete(key);
        decided.add(key);
        return true;
      },
      release: async (key: string, run: ScheduleRun) => {
        if (faults.failRelease > 0) {
          faults.failRelease--;
          throw new Error("injected: release throttled");
        }
        if (claims.get(key)?.id === run.id) claims.delete(key);
      },
      forget: async (key: string) => {
        decided.delete(key);
        claims.delete(key);
      },
    },
    log,
  };
  const decideAt = makeDecideClosingRules({
    ...common,
    clock: () => WALL_CLOCK,
    loadBackfills: async () => [...backfills.values()],
    readCounter: async ({ pk, sk }) => counters.get(pk + sk),
    async fireCounter(item, body) {
      const stored = counters.get(item.pk + item.sk);
      if (faults.conflictOnce && stored !== undefined) {
        faults.conflictOnce = false;
        counters.set(item.pk + item.sk, { ...stored, rev: stored.rev + 1 });
        return false;
      }
      if (stored === undefined || stored.rev !== item.rev || stored.fired) return false;
      counters.set(item.pk + item.sk, {
        ...stored,
        fired: true,
        rev: stored.rev + 1,
        pending: [...(stored.pending ?? []), body],
      });
      return true;
    },
    async sendMessages(messages) {
      // Cleanup of a rule removed meanwhile forgets its claim.
      if (faults.loseClaim) claims.clear();
      if (faults.failSend > 0) {
        faults.failSend--;
        throw new Error("injected: send failed");
      }
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
  });
  const cleanup = makeCleanupRemovedRules({
    ...common,
    registry: {
      list: async () => [...registry].map(([counterKey, ruleId]) => ({ counterKey, ruleId })),
      forget: async (key) => void registry.delete(key),
    },
    deleteCounters: async (keys) => {
      for (const { pk, sk } of keys) counters.delete(pk + sk);
    },
    backfills: { remove: async (key) => void backfills.delete(key) },
  });
  const users = () =>
    [...new Map(sent.map((m) => [m.id, parseMessageBody(m.body).notification])).values()]
      .map((n) => `${n.userId}@${n.at}`)
      .sort();
  const decide = (now: number) => decideAt(now, { id: `run-${++runs}`, deadline: WALL_CLOCK + 60_000 });
  return { counters, sent, decided, claims, registry, backfills, faults, decide, cleanup, users };
}

describe("decideClosingRules", () => {
  it("decides once, after the window closed, for users with events in it, on the window's totals", async () => {
    const w = world([counter("one", 1), counter("three", 3), counter("zero", 0)]);
    expect(await w.decide(CLOSED - 1)).toMatchObject({ rulesDecided: 0, notifications: 0 });
    expect(await w.decide(CLOSED)).toMatchObject({ rulesDecided: 1, notifications: 1 });
    expect(w.users()).toEqual(["one@2021-01-20T23:59:59.999Z"]);
    expect(await w.decide(CLOSED + 1000)).toMatchObject({ rulesDecided: 0, notifications: 0 });
    expect(w.sent).toHaveLength(1);
    expect(w.decided.has(KEY)).toBe(true);
  });

  it("leaves rolling rules to the rolling job: closing decides none of them, whatever their counters hold", async () => {
    const rolling: Rule = { ...closing, id: "lapsed", count: { op: "=", value: 0 }, window: { last: "14d" } };
    const key = counterKey(rolling);
    const w = world([counter("one", 1, { sk: key, counterKey: key, ruleId: "lapsed" })], [rolling]);
    expect(await w.decide(WALL_CLOCK)).toMatchObject({ rulesDecided: 0, notifications: 0 });
    expect(w.sent).toEqual([]);
  });

  it("a run that fails to send is finished by the next, without firing twice", async () => {
    const w = world([counter("a", 1), counter("b", 2)]);
    w.faults.failSend = 1;
    await expect(w.decide(CLOSED)).rejects.toThrow(/injected/);
    expect(w.decided.has(KEY)).toBe(false);
    await w.decide(CLOSED);
    expect(w.users()).toEqual(["a@2021-01-20T23:59:59.999Z", "b@2021-01-20T23:59:59.999Z"]);
    expect(new Set(w.sent.map((m) => m.id)).size).toBe(2);
    expect([...w.counters.values()].every((item) => item.pending === undefined)).toBe(true);
  });

  it("leaves a rule another run is deciding, and takes over one whose run is past its deadline", async () => {
    const w = world([counter("a", 1)]);
    w.claims.set(KEY, { id: "other", deadline: WALL_CLOCK + 1 });
    expect(await w.decide(CLOSED)).toMatchObject({ rulesDecided: 0, countersRead: 0 });
    expect(w.sent).toHaveLength(0);

    w.claims.set(KEY, { id: "other", deadline: WALL_CLOCK - 1 });
    expect(await w.decide(CLOSED)).toMatchObject({ rulesDecided: 1, notifications: 1 });
    expect(w.claims.size).toBe(0);
    expect(w.decided.has(KEY)).toBe(true);
  });

  it("gives its claim back when it fails, and does not count a decision whose claim it lost", async () => {
    const w = world([counter("a", 1)]);
    w.faults.failSend = 1;
    // The first release is throttled too: the run tries again.
    w.faults.failRelease = 1;
    await expect(w.decide(CLOSED)).rejects.toThrow(/send failed/);
    expect(w.claims.size).toBe(0);

    const lost = world([counter("a", 1)]);
    lost.faults.loseClaim = true;
    expect(await lost.decide(CLOSED)).toMatchObject({ rulesDecided: 0, notifications: 1 });
    expect(lost.decided.has(KEY)).toBe(false);
  });

  it("gives back a claim whose write succeeded but whose answer was lost, so the next run decides the rule", async () => {
    const w = world([counter("a", 1)]);
    w.faults.claimResponseLost = true;
    w.faults.failRelease = 1;
    await expect(w.decide(CLOSED)).rejects.toThrow(/claim written/);
    expect(w.claims.size).toBe(0);
    expect(await w.decide(CLOSED)).toMatchObject({ rulesDecided: 1, notifications: 1 });
  });

  it("re-reads a counter that changed between the query and the write", async () => {
    const w = world([counter("a", 1)]);
    w.faults.conflictOnce = true;
    await w.decide(CLOSED);
    expect(w.users()).toEqual(["a@2021-01-20T23:59:59.999Z"]);
  });
});

describe("closing rules and backfills", () => {
  const job = (state: BackfillJob["state"], extra: Partial<BackfillJob> = {}): BackfillJob => ({
    ...newBackfillJob(KEY, "few", { mode: "notify" }, WALL_CLOCK),
    state,
    boundary: WALL_CLOCK,
    settledAt: WALL_CLOCK + 1,
    ...extra,
  });

  it("waits for the counting's backfill to be done before deciding", async () => {
    const w = world([counter("a", 1)]);
    for (const state of ["requested", "settling", "discovering", "sweeping"] as const) {
      w.backfills.set(KEY, job(state));
      expect(await w.decide(CLOSED)).toMatchObject({
        rulesDecided: 0,
        rulesAwaitingBackfill: 1,
        countersRead: 0,
      });
      expect(w.sent).toEqual([]);
      expect(w.decided.has(KEY)).toBe(false);
      expect(w.claims.size).toBe(0);
    }
    w.backfills.set(KEY, job("done"));
    expect(await w.decide(CLOSED)).toMatchObject({
      rulesDecided: 1,
      rulesAwaitingBackfill: 0,
      notifications: 1,
    });
  });

  it("records a silent backfill's rule that closed before the boundary without notifying, and notifies one that closed after", async () => {
    const silentBefore = world([counter("a", 1)]);
    silentBefore.backfills.set(KEY, job("done", { mode: "silent", boundary: CLOSED + 1 }));
    expect(await silentBefore.decide(CLOSED + 2)).toMatchObject({
      rulesDecided: 1,
      rulesDecidedSilently: 1,
      notifications: 0,
    });
    expect(silentBefore.sent).toEqual([]);
    expect(silentBefore.decided.has(KEY)).toBe(true);

    const silentAfter = world([counter("a", 1)]);
    silentAfter.backfills.set(KEY, job("done", { mode: "silent", boundary: CLOSED - 1 }));
    expect(await silentAfter.decide(CLOSED)).toMatchObject({ rulesDecidedSilently: 0, notifications: 1 });

    const notifyBefore = world([counter("a", 1)]);
    notifyBefore.backfills.set(KEY, job("done", { mode: "notify", boundary: CLOSED + 1 }));
    expect(await notifyBefore.decide(CLOSED + 2)).toMatchObject({
      rulesDecidedSilently: 0,
      notifications: 1,
    });
  });
});

describe("cleanupRemovedRules", () => {
  it("removes a forgotten counting's backfill job with it", async () => {
    const w = world([counter("a", 1)], []);
    w.backfills.set(KEY, newBackfillJob(KEY, "few", { mode: "notify" }, WALL_CLOCK));
    await w.cleanup();
    expect(w.backfills.size).toBe(0);
  });

  it("deletes the counters of removed rules, forgets their key, and then changes nothing", async () => {
    const w = world([counter("a", 1), counter("b", 2)], []);
    w.decided.add(KEY);
    expect(await w.cleanup()).toEqual({ counterKeysRemoved: 1, countersDeleted: 2 });
    expect(w.counters.size).toBe(0);
    expect(w.registry.size).toBe(0);
    expect(w.decided.size).toBe(0);
    expect(await w.cleanup()).toEqual({ counterKeysRemoved: 0, countersDeleted: 0 });
  });

  it("keeps the counters of current rules", async () => {
    const w = world([counter("a", 1)]);
    expect(await w.cleanup()).toEqual({ counterKeysRemoved: 0, countersDeleted: 0 });
    expect(w.counters.size).toBe(1);
  });
});
