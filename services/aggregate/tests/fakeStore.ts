import type { CounterItem, EventItem, RollingItem } from "@pia/aws";
import { buildRollingStore, toEventItem } from "@pia/aws";
import { memoryWindowTable } from "@pia/aws/testing";
import type { PiaEvent, Rule } from "@pia/core";
import { parseRecord } from "@pia/core";
import type { AggregateDeps, StreamRecord } from "../src/aggregateRecords.js";
import type { CounterKey, CounterWrite } from "../src/ports.js";

const keyString = (key: CounterKey) => `${key.pk}\u0000${key.sk}`;

/** An in-memory counters table with DynamoDB's conditional-write semantics, and a recording queue. */
export function fakeStore() {
  const counters = new Map<string, CounterItem | RollingItem>();
  // Window items of rolling rules: the real store's queries on an in-memory table.
  const windowTable = memoryWindowTable();
  const rollingStore = buildRollingStore(windowTable.client, { tableName: "counters", pageSize: 3 });
  const sent: { id: string; body: string }[] = [];
  const faults = {
    failSendOnce: false,
    failClearOnce: false,
    beforeWrite: undefined as (() => Promise<void>) | undefined,
  };
  const deps: Omit<AggregateDeps, "loadRules"> = {
    async readCounters(keys) {
      return keys.flatMap((key) => {
        const item = counters.get(keyString(key));
        return item === undefined ? [] : [structuredClone(item)];
      });
    },
    async writeCounters(writes: readonly CounterWrite[]) {
      const hook = faults.beforeWrite;
      faults.beforeWrite = undefined;
      if (hook !== undefined) await hook();
      // All or nothing, like one transaction.
      const ok = writes.every(({ item, expectedRev }) => counters.get(keyString(item))?.rev === expectedRev);
      if (!ok) return { conflicts: writes.map(({ item }) => ({ pk: item.pk, sk: item.sk })) };
      for (const { item } of writes) counters.set(keyString(item), structuredClone(item));
      return { conflicts: [] };
    },
    async sendMessages(messages) {
      if (faults.failSendOnce) {
        faults.failSendOnce = false;
        throw new Error("injected: crash before the send");
      }
      sent.push(...messages);
    },
    async clearPending(list) {
      if (faults.failClearOnce) {
        faults.failClearOnce = false;
        throw new Error("injected: crash after the send, before the clear");
      }
      for (const { key, rev } of list) {
        const item = counters.get(keyString(key));
        if (item === undefined || item.rev !== rev) continue;
        const { pending: _, ...rest } = item;
        counters.set(keyString(key), { ...rest, rev: rev + 1 });
      }
    },
    loadWindowFront: rollingStore.loadWindowFront,
    putWindowItems: rollingStore.putWindowItems,
    clock: () => 1_700_000_000_000,
    log: { info: () => {}, warn: () => {}, error: () => {} },
  };
  return { counters, sent, faults, deps, windowTable };
}

let nextSequence = 100;

/** Stream records (INSERT, with increasing sequence numbers) for NDJSON lines that parse to events. */
export function streamRecords(lines: readonly string[]): StreamRecord[] {
  return lines.map((line) => {
    const outcome = parseRecord(line);
    if (outcome.kind !== "event") throw new Error(`not an event: ${line}`);
    return insert(outcome.event);
  });
}

export function insert(event: PiaEvent): StreamRecord {
  const item: EventItem = toEventItem(event, 2_000_000_000);
  return {
    eventName: "INSERT",
    // A leading 1, then zero-padded: string order is numeric order for any count of records.
    sequenceNumber: `1${String(++nextSequence).padStart(20, "0")}`,
    newImage: JSON.parse(JSON.stringify(item)) as Record<string, unknown>,
  };
}

/**
 * Feeds records in batches of the sizes `cuts` gives in turn, every other batch delivered twice
 * (a retried batch): what the property tests compare with the engine.
 */
export async function feedInCuts(
  aggregate: (records: readonly StreamRecord[]) => Promise<unknown>,
  records: readonly StreamRecord[],
  cuts: readonly number[],
): Promise<void> {
  let start = 0;
  for (let i = 0; start < records.length; i++) {
    const size = cuts[i % cuts.length] ?? 1;
    const batch = records.slice(start, start + size);
    await aggregate(batch);
    if (i % 2 === 0) await aggregate(batch);
    start += size;
  }
}

/** A rule of the aggregate tests: an attribute action named after it unless given. */
export const testRule = (spec: Partial<Rule> & Pick<Rule, "id" | "event">): Rule => ({
  action: { type: "attribute", name: spec.id, value: "Ready" },
  reset: false,
  enabled: true,
  ...spec,
});

/** Once per user, every second (reset), and an exact sum: the three ways a counter fires. */
export const TEST_RULES: readonly Rule[] = [
  testRule({ id: "views", event: "pageview", count: { op: ">", value: 2 } }),
  testRule({
    id: "every-2",
    event: "pageview",
    count: { op: "=", value: 2 },
    reset: true,
    action: { type: "event", name: "trk_two" },
  }),
  testRule({ id: "spend", event: "purchase", sum: { metric: "price", op: ">=", value: "0.3" } }),
];
