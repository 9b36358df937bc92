import {
  buildRollingStore,
  type CounterItem,
  DEFAULTS,
  orderStreamOf,
  paddedSequence,
  parseMessageBody,
  type RollingItem,
  rollingSummary,
  windowItemSk,
} from "@pia/aws";
import { BUSY_RULE, memoryWindowTable } from "@pia/aws/testing";
import type { Rule } from "@pia/core";
import { applyMatches, compileRule, counterKey, type RollingRule } from "@pia/core";
import { describe, expect, it } from "vitest";
import { makeDecideRollingExpiries } from "../src/decideRollingExpiries.js";

const MIN = 60_000;
const T0 = Date.parse("2021-03-01T00:00:00Z");
const at = (minutes: number) => new Date(T0 + minutes * MIN).toISOString();

const busy: Rule = BUSY_RULE;
const lapsed: Rule = { ...busy, id: "lapsed", count: { op: "=", value: 0 }, window: { last: "14d" } };

/** A counters table (summaries by key, window items through the real store) and a queue. */
function world(rules: Rule[]) {
  const summaries = new Map<string, RollingItem | CounterItem>();
  const windowTable = memoryWindowTable();
  const store = buildRollingStore(windowTable.client, { tableName: "counters", pageSize: 2 });
  const sent: { id: string; body: string }[] = [];
  const partitions: string[] = [];
  const faults = { conflicts: 0 };
  const errors: string[] = [];
  let reads = 0;
  let sequence = 1000;
  const current = { rules };

  /** A user's matching events applied as aggregate does: summary, window items, and the entry sent. */
  const seed = (rule: Rule, user: string, minutes: number[]) => {
    const compiled = compileRule(rule) as RollingRule;
    const key = { pk: `3:app#${user}`, sk: counterKey(rule) };
    const seqs = minutes.map(() => paddedSequence(String(++sequence)));
    const born = seqs[0] as string;
    const step = applyMatches(
      compiled,
      undefined,
      minutes.map((m) => ({ timestamp: T0 + m * MIN, metric: undefined })),
    );
    minutes.forEach((m, i) => {
      const seq = seqs[i] as string;
      const sk = windowItemSk(key.sk, born, T0 + m * MIN, seq);
      windowTable.items.set(`${key.pk}\u0000${sk}`, { pk: key.pk, sk, at: T0 + m * MIN, seq, expiresAt: 0 });
    });
    const item = rollingSummary({
      key,
      compiled,
      state: step.state,
      target: { appId: "app", userId: user },
      seq: seqs[seqs.length - 1] as string,
      born,
      emptied: "0".repeat(40),
      rev: 1,
      pending: [],
      shards: DEFAULTS.counters.dueShards,
    });
    summaries.set(key.pk + key.sk, item);
    return item;
  };

  const decide = makeDecideRollingExpiries({
    loadRules: async () => current.rules,
    async *dueStates(partition, now) {
      partitions.push(partition);
      yield [...summaries.values()]
        .filter((item) => "dueShard" in item && item.dueShard === partition && (item.dueAt ?? 0) <= now)
        .map(({ pk, sk }) => ({ pk, sk }));
    },
    async readCounter({ pk, sk }) {
      reads++;
      const item = summaries.get(pk + sk);
      return item === undefined ? undefined : structuredClone(item);
    },
    loadWindowFront: store.loadWindowFront,
    async writeRolling(item, expectedRev) {
      const stored = summaries.get(item.pk + item.sk);
      if (faults.conflicts > 0 && stored !== undefined) {
        // Another writer got there first.
        faults.conflicts--;
        summaries.set(item.pk + item.sk, { ...stored, rev: stored.rev + 1 });
        return false;
      }
      if (stored?.rev !== expectedRev) return false;
      summaries.set(item.pk + item.sk, structuredClone(item));
      return true;
    },
    async sendMessages(messages) {
      sent.push(...messages);
    },
    async clearPending(list) {
      for (const { key, rev } of list) {
        const item = summaries.get(key.pk + key.sk);
        if (item === undefined || item.rev !== rev) continue;
        const { pending: _, ...rest } = item;
        summaries.set(key.pk + key.sk, { ...rest, rev: rev + 1 });
      }
    },
    dueShards: DEFAULTS.counters.dueShards,
    log: { info: () => {}, warn: () => {}, error: (message: string) => errors.push(message) },
  });
  const notifications = () =>
    sent.map((message) => {
      const { notification, order } = parseMessageBody(message.body);
      return {
        line: `${notification.ruleId}|${notification.userId}|${notification.at}|${notification.seq}|${JSON.stringify(notification.value)}`,
        order,
      };
    });
  const summary = (rule: Rule, user: string) =>
    summaries.get(`3:app#${user}${counterKey(rule)}`) as RollingItem;
  return {
    seed,
    decide,
    sent,
    notifications,
    summary,
    partitions,
    faults,
    current,
    windowTable,
    errors,
    reads: () => reads,
  };
}

describe("decideRollingExpiries", () => {
  it("asks each shard of the due index, and reads nothing when nothing is due", async () => {
    const w = world([busy]);
    w.seed(busy, "ana", [0, 10, 20]);
    const counts = await w.decide(T0 + 30 * MIN);
    expect(counts).toEqual({ statesDue: 0, statesAdvanced: 0, statesParked: 0, notifications: 0 });
    expect(w.partitions).toHaveLength(DEFAULTS.counters.dueShards + 1);
    expect(new Set(w.partitions).size).toBe(w.partitions.length);
    expect(w.reads()).toBe(0);
    expect(w.windowTable.queries).toEqual([]);
  });

  it("exits at the expiry instant, once, and leaves the index when the window is empty", async () => {
    const w = world([busy]);
    const seeded = w.seed(busy, "ana", [0, 10, 20]);
    expect(seeded).toMatchObject({ in: true, notified: 1, dueAt: T0 + 60 * MIN });
    expect(await w.decide(T0 + 65 * MIN)).toMatchObject({
      statesDue: 1,
      statesAdvanced: 1,
      notifications: 1,
    });
    expect(w.notifications()).toEqual([
      { line: `busy|ana|${at(60)}|2|""`, order: { stream: orderStreamOf(seeded, seeded.born), seq: 2 } },
    ]);
    expect(w.summary(busy, "ana")).toMatchObject({
      count: 2,
      in: false,
      w: T0 + 60 * MIN,
      dueAt: T0 + 70 * MIN,
    });
    // Run again at the same instant: nothing is due any more.
    expect(await w.decide(T0 + 65 * MIN)).toMatchObject({ statesDue: 0, notifications: 0 });
    await w.decide(T0 + 200 * MIN);
    const last = w.summary(busy, "ana");
    expect(last).toMatchObject({ count: 0, w: T0 + 80 * MIN });
    expect(last.dueShard).toBeUndefined();
    expect(last.dueAt).toBeUndefined();
    expect(w.sent).toHaveLength(1);
  });

  it("enters a lapsed user (count = 0) when the last event expires", async () => {
    const w = world([lapsed]);
    w.seed(lapsed, "ben", [0]);
    expect(await w.decide(T0 + 14 * 24 * 60 * MIN - 1)).toMatchObject({ statesDue: 0 });
    expect(await w.decide(T0 + 15 * 24 * 60 * MIN)).toMatchObject({ statesAdvanced: 1, notifications: 1 });
    expect(w.notifications().map(({ line }) => line)).toEqual([`lapsed|ben|${at(14 * 24 * 60)}|1|"Ready"`]);
    expect(w.summary(lapsed, "ben")).toMatchObject({ count: 0, in: true });
    expect(w.summary(lapsed, "ben").dueAt).toBeUndefined();
  });

  it("redoes a state another writer changed between the read and the write", async () => {
    const w = world([busy]);
    w.seed(busy, "ana", [0, 10, 20]);
    w.faults.conflicts = 1;
    expect(await w.decide(T0 + 65 * MIN)).toMatchObject({ statesAdvanced: 1, notifications: 1 });
    expect(w.notifications().map(({ line }) => line)).toEqual([`busy|ana|${at(60)}|2|""`]);
  });

  it("parks the due states of a disabled rule, and decides them once it is enabled again", async () => {
    const w = world([{ ...busy, enabled: false }]);
    w.seed(busy, "ana", [0, 10, 20]);
    expect(await w.decide(T0 + 65 * MIN)).toMatchObject({ statesParked: 1, notifications: 0 });
    expect(w.summary(busy, "ana").dueShard).toBe(`parked#${counterKey(busy)}`);
    // Parked: the shards no longer list it.
    expect(await w.decide(T0 + 66 * MIN)).toMatchObject({ statesDue: 0 });
    w.current.rules = [busy];
    expect(await w.decide(T0 + 75 * MIN)).toMatchObject({ statesAdvanced: 1, notifications: 1 });
    expect(w.notifications().map(({ line }) => line)).toEqual([`busy|ana|${at(60)}|2|""`]);
    expect(w.summary(busy, "ana").dueShard).toMatch(/^due#/);
  });

  it("logs a state whose window items are gone, leaves it due, and decides the others", async () => {
    const w = world([busy]);
    const broken = w.seed(busy, "ana", [0, 10, 20]);
    w.seed(busy, "ben", [0, 10, 20]);
    for (const [key, item] of w.windowTable.items) if (item.pk === broken.pk) w.windowTable.items.delete(key);
    expect(await w.decide(T0 + 65 * MIN)).toMatchObject({
      statesDue: 2,
      statesAdvanced: 1,
      notifications: 1,
    });
    expect(w.notifications().map(({ line }) => line)).toEqual([`busy|ben|${at(60)}|2|""`]);
    expect(w.errors).toHaveLength(1);
    expect(w.summary(busy, "ana")).toMatchObject({ dueAt: T0 + 60 * MIN, rev: 1 });
  });
});
