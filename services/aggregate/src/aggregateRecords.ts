import type {
  BackfillBoundary,
  CounterItem,
  EventItem,
  PendingDelivery,
  ReadHistory,
  RollingItem,
  RuleSet,
  WindowItem,
} from "@pia/aws";
import {
  arrivalOf,
  counterStateOf,
  DEFAULTS,
  deliverPending,
  fromEventItem,
  HistoryTooLargeError,
  heldMatchesOf,
  holdMatches,
  InvalidEventItemError,
  isHeld,
  isLive,
  isRollingItem,
  mergeBackfill,
  NO_SEQUENCE,
  notificationId,
  paddedSequence,
  pendingMessages,
  toMessageBody,
} from "@pia/aws";
import type { CompiledRule, CounterRule, PiaEvent, Rule } from "@pia/core";
import {
  applyMatches,
  canonicalDecimal,
  compileRule,
  counterKey,
  isSettled,
  makeNotification,
  matchesEvent,
  metricText,
} from "@pia/core";
import { applyRollingCounter } from "./applyRollingCounter.js";
import type {
  ClearPending,
  CounterKey,
  CounterWrite,
  LoadRules,
  LoadWindowFront,
  Log,
  PutWindowItems,
  ReadCounters,
  SendMessages,
  WriteCounters,
} from "./ports.js";

/** One record of the events table's stream, as the handler hands it over. */
export interface StreamRecord {
  readonly eventName: "INSERT" | "MODIFY" | "REMOVE";
  readonly sequenceNumber: string;
  /** The unmarshalled new image (INSERT and MODIFY). */
  readonly newImage?: Record<string, unknown>;
}

export interface AggregateCounts {
  readonly records: number;
  readonly applied: number;
  /**
   * MODIFY (ingest writes each event item once, so only a foreign writer makes one: the first
   * record wins) and REMOVE (TTL expiry).
   */
  readonly notInsert: number;
  readonly badItem: number;
  /** Matches of backfilled rules that arrived before the boundary: the backfill's history, not ours. */
  readonly history: number;
  /** Users whose history aggregate merged into a backfilled rule's counter. */
  readonly historyMerged: number;
  readonly countersWritten: number;
  readonly notifications: number;
}

export interface AggregateResult {
  /** Sequence numbers of records to retry (Lambda retries from the lowest). */
  readonly batchItemFailures: { itemIdentifier: string }[];
  readonly counts: AggregateCounts;
}

export interface AggregateDeps {
  readonly loadRules: LoadRules;
  readonly readCounters: ReadCounters;
  readonly writeCounters: WriteCounters;
  readonly sendMessages: SendMessages;
  readonly clearPending: ClearPending;
  readonly log: Log;
  /** A backfilled rule's user history (docs/rules.md section 9); needed once any rule is backfilled. */
  readonly readHistory?: ReadHistory;
  /** Rolling windows: the front of a stored window, and the window items to put. */
  readonly loadWindowFront: LoadWindowFront;
  readonly putWindowItems: PutWindowItems;
  /** Wall clock, epoch ms (window items' TTL; whether a backfill's history is complete). */
  readonly clock?: () => number;
  /** Partitions of the `byDue` index (DEFAULTS.counters.dueShards). */
  readonly dueShards?: number;
  /** Attempts when another writer changed a counter between our read and write. */
  readonly maxConflictRetries?: number;
}

interface IndexedRule {
  readonly compiled: CompiledRule;
  readonly key: string;
  /** Present when the rule's counting is backfilled. */
  readonly backfill?: BackfillBoundary;
}

interface Applied {
  readonly event: PiaEvent;
  readonly seq: string;
  /** When ingest stored the event (absent on items stored before stamps). */
  readonly arrivedAt?: number;
}

/** The work of one counter in this batch: the matching events in stream order. */
interface CounterWork {
  readonly key: CounterKey;
  readonly rule: IndexedRule;
  readonly events: Applied[];
  /** Sequence numbers of every record of this user in the batch (for item failures). */
  readonly userSeqs: string[];
}

const keyString = (key: CounterKey) => `${key.pk}\u0000${key.sk}`;

/** Rules alone (tests, files) are a rule set without backfills. */
function ruleSetOf(loaded: readonly Rule[] | RuleSet): RuleSet {
  return "rules" in loaded ? loaded : { rules: loaded, backfills: new Map() };
}

function indexRules(set: RuleSet): Map<string, IndexedRule[]> {
  const byEvent = new Map<string, IndexedRule[]>();
  for (const rule of set.rules) {
    if (!rule.enabled) continue;
    const compiled = compileRule(rule);
    const key = counterKey(rule);
    const backfill = set.backfills.get(key);
    const indexed = { compiled, key, ...(backfill === undefined ? {} : { backfill }) };
    const list = byEvent.get(rule.event);
    if (list === undefined) byEvent.set(rule.event, [indexed]);
    else list.push(indexed);
  }
  return byEvent;
}

/**
 * Applies a batch of the events table's stream to the per-user counters, exactly once:
 * - a counter remembers the highest stream sequence it has applied, so a re-delivered record
 *   (a retried batch, a partial success) adds nothing;
 * - every counter of the batch is read once and written once (events of one user coalesced),
 *   only if unchanged since the read; a conflicting writer makes us re-read and re-apply;
 * - a firing is stored as a pending message in the same write as the totals, then sent, then
 *   cleared; a crash in between leaves it pending, and the next batch that reads the counter
 *   sends it again (the notifier drops the duplicate by id).
 */
export function makeAggregateRecords(
  deps: AggregateDeps,
): (records: readonly StreamRecord[]) => Promise<AggregateResult> {
  const maxRetries = deps.maxConflictRetries ?? 5;
  const rolling = {
    loadWindowFront: deps.loadWindowFront,
    clock: deps.clock ?? Date.now,
    dueShards: deps.dueShards ?? DEFAULTS.counters.dueShards,
  };
  const backfilled = { readHistory: deps.readHistory, clock: rolling.clock };

  return async (records) => {
    const rulesByEvent = indexRules(ruleSetOf(await deps.loadRules()));
    let applied = 0;
    let notInsert = 0;
    let badItem = 0;
    let history = 0;
    let historyMerged = 0;

    const work = new Map<string, CounterWork>();
    const userSeqs = new Map<string, string[]>();
    for (const record of records) {
      if (record.eventName !== "INSERT" || record.newImage === undefined) {
        notInsert++;
        continue;
      }
      let event: PiaEvent;
      let arrivedAt: number | undefined;
      try {
        event = fromEventItem(record.newImage as unknown as EventItem);
        arrivedAt = arrivalOf(record.newImage);
      } catch (error: unknown) {
        if (!(error instanceof InvalidEventItemError)) throw error;
        // A foreign item can never become valid: counting it as bad beats blocking the shard.
        badItem++;
        deps.log.warn("skipped an events table item that is not an event", { reason: error.message });
        continue;
      }
      applied++;
      const seq = paddedSequence(record.sequenceNumber);
      const pk = (record.newImage as { pk: string }).pk;
      const seqs = userSeqs.get(pk) ?? [];
      userSeqs.set(pk, seqs);
      seqs.push(record.sequenceNumber);
      for (const rule of rulesByEvent.get(event.eventType) ?? []) {
        if (!matchesEvent(rule.compiled, event)) continue;
        // The backfill counts what arrived before its boundary (docs/rules.md section 9).
        if (rule.backfill !== undefined && !isLive(arrivedAt, rule.backfill)) {
          history++;
          continue;
        }
        const key = { pk, sk: rule.key };
        let counter = work.get(keyString(key));
        if (counter === undefined) {
          counter = { key, rule, events: [], userSeqs: seqs };
          work.set(keyString(key), counter);
        }
        counter.events.push({ event, seq, ...(arrivedAt === undefined ? {} : { arrivedAt }) });
      }
    }

    let pendingWork = [...work.values()];
    // Per counter: the messages it holds pending, to send and then clear.
    const deliveries = new Map<string, PendingDelivery>();
    let countersWritten = 0;
    const failedSeqs: string[] = [];

    for (let attempt = 0; pendingWork.length > 0; attempt++) {
      if (attempt > maxRetries) {
        for (const counter of pendingWork) failedSeqs.push(...counter.userSeqs);
        break;
      }
      const existing = new Map<string, CounterItem | RollingItem>();
      for (const item of await deps.readCounters(pendingWork.map((counter) => counter.key))) {
        existing.set(keyString(item), item);
      }
      const writes: CounterWrite[] = [];
      /** Counters of backfilled rules written over an absent or held one (a merge, unless held again). */
      const writtenFromHeldOrAbsent = new Set<string>();
      const windowItems: WindowItem[] = [];
      for (const counter of pendingWork) {
        const item = existing.get(keyString(counter.key));
        // Decided earlier but not confirmed sent (a crash between the write and the send).
        if (item !== undefined && (item.pending ?? []).length > 0) {
          deliveries.set(keyString(counter.key), {
            key: counter.key,
            rev: item.rev,
            messages: pendingMessages(item.pending),
          });
        }
        const { compiled } = counter.rule;
        if (compiled.kind === "rolling") {
          if (item !== undefined && !isRollingItem(item)) {
            throw new Error(
              `rule ${compiled.rule.id}: the counter at ${counter.key.sk} is not a rolling state`,
            );
          }
          const next = await applyRollingCounter(rolling, compiled, counter.key, counter.events, item);
          if (next === undefined) continue;
          windowItems.push(...next.windowItems);
          writes.push({ item: next.item, expectedRev: item?.rev });
          continue;
        }
        if (isRollingItem(item)) {
          throw new Error(`rule ${compiled.rule.id}: the counter at ${counter.key.sk} is a rolling state`);
        }
        const backfill = counter.rule.backfill;
        const unmerged = backfill !== undefined && (item === undefined || isHeld(item));
        const next = unmerged
          ? await applyBackfilledCounter(backfilled, compiled, counter, item, backfill)
          : applyCounter(compiled, counter, item);
        if (unmerged) writtenFromHeldOrAbsent.add(keyString(counter.key));
        if (next === "full" || next === "tooLarge") {
          // Records stay unapplied, never counted wrong: a full held counter until the history can
          // be merged (minutes); a history over the limit until the stream gives the records up
          // (to the on-failure destination, for a replay once the limit is raised).
          deps.log.warn(
            next === "full"
              ? "a held counter is full; its records are retried until its history is merged"
              : "a user's history is over the backfill's limit; their records are retried, then given up",
            { ruleId: compiled.rule.id },
          );
          failedSeqs.push(...counter.userSeqs);
          continue;
        }
        if (next === undefined) continue;
        writes.push({ item: next.item, expectedRev: item?.rev });
      }
      // Window items first: a summary is only written once every item it counts is stored.
      await deps.putWindowItems(windowItems);
      const { conflicts } = await deps.writeCounters(writes);
      const conflicting = new Set(conflicts.map(keyString));
      for (const { item } of writes) {
        // Another writer won: what we decided for this counter is void; it is redone from a fresh read.
        if (conflicting.has(keyString(item))) {
          deliveries.delete(keyString(item));
          continue;
        }
        countersWritten++;
        // A merged counter is the first one of its user that holds nothing (see applyBackfilledCounter).
        if (!("held" in item) && writtenFromHeldOrAbsent.has(keyString(item))) historyMerged++;
        if ((item.pending ?? []).length > 0) {
          deliveries.set(keyString(item), {
            key: item,
            rev: item.rev,
            messages: pendingMessages(item.pending),
          });
        }
      }
      pendingWork = pendingWork.filter((counter) => conflicting.has(keyString(counter.key)));
    }

    const notifications = await deliverPending(
      [...deliveries.values()],
      deps.sendMessages,
      deps.clearPending,
    );

    const failed = [...new Set(failedSeqs)];
    return {
      batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })),
      counts: {
        records: records.length,
        applied,
        notInsert,
        badItem,
        history,
        historyMerged,
        countersWritten,
        notifications,
      },
    };
  };
}

/**
 * A backfilled rule's counter whose user's history is not merged yet (absent or held), after this
 * batch's live events (docs/rules.md section 9): before the backfill's `settledAt` the events are
 * held, in stream order, and nothing is decided; from then on the user's history is read and
 * merged with the held and new events, and the counter counts as any other. The conditional write
 * of the counter makes the merge happen once, whether the job or aggregate gets there first.
 * `"full"`: the counter holds `HELD_LIMIT` matches already.
 */
async function applyBackfilledCounter(
  deps: { readonly readHistory: ReadHistory | undefined; readonly clock: () => number },
  compiled: CounterRule,
  counter: CounterWork,
  item: CounterItem | undefined,
  backfill: BackfillBoundary,
): Promise<{ item: CounterItem } | "full" | "tooLarge" | undefined> {
  const fresh = counter.events.filter(({ seq }) => seq > (item?.seq ?? NO_SEQUENCE));
  const first = fresh[0];
  if (first === undefined) return undefined;
  const owner = { ...counter.key, appId: first.event.appId, userId: first.event.userId };
  const live = heldMatchesOf(compiled, fresh);
  if (backfill.settledAt === undefined || deps.clock() < backfill.settledAt) {
    const held = holdMatches(compiled, owner, item, live);
    return held === undefined ? "full" : { item: held };
  }
  if (deps.readHistory === undefined) {
    throw new Error(`rule ${compiled.rule.id} is backfilled, and aggregate was given no history reader`);
  }
  let events: PiaEvent[];
  try {
    ({ events } = await deps.readHistory(counter.key.pk, compiled.rule.event, backfill));
  } catch (error: unknown) {
    if (error instanceof HistoryTooLargeError) return "tooLarge";
    throw error;
  }
  const next = mergeBackfill({
    compiled,
    owner,
    mode: backfill.mode,
    history: events.filter((event) => matchesEvent(compiled, event)),
    live: [...(item?.held ?? []), ...live],
    item,
  });
  return next === undefined ? undefined : { item: next };
}

/**
 * The counter after this batch's events that it has not applied yet, with the messages of any
 * firing; undefined when nothing changes (every record already applied, or a fired rule).
 */
function applyCounter(
  compiled: CounterRule,
  counter: CounterWork,
  item: CounterItem | undefined,
): { item: CounterItem } | undefined {
  const state = counterStateOf(item);
  if (isSettled(compiled, state)) return undefined;
  const fresh = counter.events.filter(({ seq }) => seq > (item?.seq ?? NO_SEQUENCE));
  if (fresh.length === 0) return undefined;
  // A notification addresses the latest endpoint known when it fired.
  let endpointId = item?.endpointId;
  const matches = fresh.map(({ event, seq }) => {
    endpointId = event.endpointId ?? endpointId;
    return { timestamp: event.timestamp, metric: metricText(compiled, event), event, seq, endpointId };
  });
  const step = applyMatches(compiled, state, matches);
  const fired = step.firings.map(({ match, at }) => {
    const id = notificationId(counter.key, match.seq);
    const { appId, userId } = match.event;
    const notification = makeNotification(compiled.rule, { appId, userId, endpointId: match.endpointId }, at);
    const sink = compiled.rule.action.sink;
    return toMessageBody({ id, notification, ...(sink === undefined ? {} : { sink }) });
  });
  const last = fresh[fresh.length - 1] as Applied;
  return {
    item: {
      pk: counter.key.pk,
      sk: counter.key.sk,
      counterKey: counter.key.sk,
      ruleId: compiled.rule.id,
      appId: last.event.appId,
      userId: last.event.userId,
      ...(endpointId === undefined ? {} : { endpointId }),
      count: step.state.count,
      sum: canonicalDecimal(step.state.sum),
      fired: step.state.fired,
      seq: last.seq,
      rev: (item?.rev ?? 0) + 1,
      pending: [...(item?.pending ?? []), ...fired],
    },
  };
}
