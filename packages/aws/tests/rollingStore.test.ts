import type { RollingRule, Rule } from "@pia/core";
import { compileRule, counterKey } from "@pia/core";
import { describe, expect, it } from "vitest";
import { paddedSequence } from "../src/counterItem.js";
import {
  dueShardOf,
  isLiveWindowItem,
  type RollingItem,
  type WindowItem,
  windowItemExpiry,
  windowItemSk,
} from "../src/rollingItem.js";
import { buildRollingStore } from "../src/rollingStore.js";
import { BUSY_RULE } from "../src/testing/busyRule.js";
import { memoryWindowTable } from "../src/testing/memoryWindowTable.js";

const HOUR = 3_600_000;
const T0 = Date.parse("2021-03-01T00:00:00Z");
const rule: Rule = BUSY_RULE;
const compiled = compileRule(rule) as RollingRule;
const KEY = { pk: "3:app#ana", sk: counterKey(rule) };
const seq = (n: number) => paddedSequence(String(n));

function summary(fields: Partial<RollingItem>): RollingItem {
  return {
    ...KEY,
    counterKey: KEY.sk,
    kind: "rolling",
    ruleId: "busy",
    appId: "app",
    userId: "ana",
    count: 0,
    sum: "0",
    in: false,
    w: T0,
    notified: 0,
    seq: seq(0),
    born: seq(1),
    emptied: seq(0),
    rev: 1,
    ...fields,
  };
}

function item(born: string, minutes: number, n: number, metric?: string): WindowItem {
  const at = T0 + minutes * 60_000;
  return {
    pk: KEY.pk,
    sk: windowItemSk(KEY.sk, born, at, seq(n)),
    at,
    seq: seq(n),
    ...(metric === undefined ? {} : { metric }),
    expiresAt: windowItemExpiry(at, HOUR, 0),
  };
}

function setup(items: WindowItem[], pageSize = 2) {
  const table = memoryWindowTable();
  const store = buildRollingStore(table.client, { tableName: "counters", pageSize });
  return { table, store, ready: store.putWindowItems(items) };
}

const minutesOf = (events: readonly { at: number }[]) => events.map((e) => (e.at - T0) / 60_000);

describe("rolling store: the front of a window", () => {
  it("loads every event up to `through`, then exactly one more, in time order (ties by stream order)", async () => {
    const born = seq(1);
    const items = [
      item(born, 0, 1, "1.5"),
      item(born, 5, 2),
      item(born, 5, 3),
      item(born, 20, 4),
      item(born, 30, 5),
      item(born, 40, 6),
    ];
    const { store, table, ready } = setup(items);
    await ready;
    const state = summary({ count: 6, w: T0 + 40 * 60_000, seq: seq(6) });
    // Up to T0 + 65 min: what expires by then (at <= 5 min), and the next one (20).
    const front = await store.loadWindowFront(state, compiled, T0 + 65 * 60_000);
    expect(minutesOf(front)).toEqual([0, 5, 5, 20]);
    expect(front[0]).toEqual({ at: T0, metric: "1.5" });
    // Nothing expires by w: only the first event, one small page.
    table.queries.length = 0;
    expect(minutesOf(await store.loadWindowFront(state, compiled, state.w))).toEqual([0]);
    expect(table.queries.reduce((n, q) => n + q.read, 0)).toBeLessThanOrEqual(2);
  });

  it("reads nothing when the window is empty or nothing expires by `until`: the summary knows the first event's time", async () => {
    const born = seq(1);
    const { store, table, ready } = setup([item(born, 0, 1, "1.5"), item(born, 30, 2)]);
    await ready;
    const state = summary({ count: 2, w: T0 + 30 * 60_000, seq: seq(2), dueAt: T0 + HOUR });
    table.queries.length = 0;
    // Up to just before the first expiry: the first event's time, no metric (it does not leave).
    expect(await store.loadWindowFront(state, compiled, T0 + HOUR - 1)).toEqual([
      { at: T0, metric: undefined },
    ]);
    expect(await store.loadWindowFront(summary({ count: 0 }), compiled, T0 + 5 * HOUR)).toEqual([]);
    expect(table.queries).toHaveLength(0);
    // At the first expiry: read for real, the metric included.
    expect((await store.loadWindowFront(state, compiled, T0 + HOUR))[0]).toEqual({ at: T0, metric: "1.5" });
    expect(table.queries.length).toBeGreaterThan(0);
  });

  it("ignores items a write lost (seq above the summary's), a reset emptied, or w has left behind", async () => {
    const born = seq(1);
    const { store, ready } = setup([
      item(born, 0, 1),
      item(born, 10, 2),
      item(born, 70, 3),
      item(born, 80, 4),
      item(born, 90, 9),
    ]);
    await ready;
    // w = 80 min: the window is (20, 80]; seqs 1, 2 are at or below its start; 3 was emptied;
    // 9 belongs to a write that did not win.
    const state = summary({ count: 1, w: T0 + 80 * 60_000, seq: seq(4), emptied: seq(3) });
    expect(minutesOf(await store.loadWindowFront(state, compiled, T0 + 200 * 60_000))).toEqual([80]);
    expect(isLiveWindowItem(state, compiled, item(born, 90, 9))).toBe(false);
    expect(isLiveWindowItem(state, compiled, item(born, 80, 4))).toBe(true);
  });

  it("pages past invalid items to find the one after `through`", async () => {
    const born = seq(1);
    const lost = [11, 12, 13, 14, 15].map((n, i) => item(born, 1 + i, n));
    const { store, ready } = setup([item(born, 0, 1), ...lost, item(born, 30, 5)], 2);
    await ready;
    const state = summary({ count: 2, w: T0 + 30 * 60_000, seq: seq(5) });
    expect(minutesOf(await store.loadWindowFront(state, compiled, T0 + 60 * 60_000))).toEqual([0, 30]);
  });

  it("never sees the items of an earlier life of the state (another `born`)", async () => {
    const { store, ready } = setup([item(seq(1), 0, 1), item(seq(1), 5, 2), item(seq(7), 10, 7)]);
    await ready;
    const reborn = summary({ count: 1, w: T0 + 10 * 60_000, seq: seq(7), born: seq(7) });
    expect(minutesOf(await store.loadWindowFront(reborn, compiled, T0 + 200 * 60_000))).toEqual([10]);
  });

  it("rewrites an item idempotently: same key, one item", async () => {
    const born = seq(1);
    const { store, table, ready } = setup([item(born, 0, 1), item(born, 5, 2)]);
    await ready;
    await store.putWindowItems([item(born, 5, 2), item(born, 0, 1)]);
    expect(table.items.size).toBe(2);
    await store.putWindowItems(Array.from({ length: 60 }, (_, i) => item(born, 10 + i, 10 + i)));
    expect(table.items.size).toBe(62);
  });
});

describe("rolling items", () => {
  it("spreads states over the due shards, stably", () => {
    const shards = new Set(
      Array.from({ length: 200 }, (_, i) => dueShardOf({ pk: `u${i}`, sk: KEY.sk }, 16)),
    );
    expect(shards.size).toBe(16);
    expect(dueShardOf(KEY, 16)).toBe(dueShardOf({ ...KEY }, 16));
  });

  it("keeps a window item until after its expiry, or after its write for a historical event", () => {
    const margin = 7 * 24 * HOUR;
    expect(windowItemExpiry(T0, HOUR, 0)).toBe((T0 + HOUR + margin) / 1000);
    const writtenAt = T0 + 400 * 24 * HOUR;
    expect(windowItemExpiry(T0, HOUR, writtenAt)).toBe((writtenAt + margin) / 1000);
  });
});
