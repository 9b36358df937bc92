import {
  deliverPending,
  isRollingItem,
  type PendingDelivery,
  parkedShardOf,
  pendingMessages,
  type RollingItem,
  rollingMessage,
  rollingStateOf,
  rollingSummary,
} from "@pia/aws";
import { advanceClock, compileRule, counterKey, type RollingRule, WindowNotLoadedError } from "@pia/core";
import type {
  ClearPending,
  DueStates,
  LoadRules,
  LoadWindowFront,
  Log,
  ReadCounter,
  SendMessages,
  WriteRolling,
} from "./ports.js";

export interface DecideRollingDeps {
  readonly loadRules: LoadRules;
  readonly dueStates: DueStates;
  readonly readCounter: ReadCounter;
  readonly loadWindowFront: LoadWindowFront;
  readonly writeRolling: WriteRolling;
  readonly sendMessages: SendMessages;
  readonly clearPending: ClearPending;
  /** Partitions of the `byDue` index (DEFAULTS.counters.dueShards). */
  readonly dueShards: number;
  readonly log: Log;
  readonly maxConflictRetries?: number;
}

export interface RollingCounts {
  /** States the index listed as due (each read once, or again after a conflict). */
  readonly statesDue: number;
  /** States brought to `now` and written. */
  readonly statesAdvanced: number;
  /** Due states of rules that are not enabled (removed or disabled), moved out of the shards. */
  readonly statesParked: number;
  readonly notifications: number;
}

/**
 * Decides the expiries of rolling windows (docs/rules.md 4.4) that are due at `now`: the states the
 * sparse `byDue` index lists with `dueAt <= now` in each shard (a query per shard, so the cost
 * follows the due states, never the table), plus the parked states of every enabled rolling rule
 * (its states found due while it was disabled). Each is read again (consistent), the front of its
 * window that expires by `now` is loaded, the core's `advanceClock` decides, and the state is
 * written only if unchanged since the read (`rev`), with its messages pending; then they are sent
 * and cleared. A conflict (aggregate wrote meanwhile) re-reads and redoes the state.
 *
 * A due state whose rule is not enabled is parked: moved to its rule's own partition of the index,
 * where nothing queries it until the rule is enabled again; a removed rule's states are then
 * deleted by the cleanup. A state whose window items are missing (`WindowNotLoadedError`) is
 * logged and left due; the others go on.
 */
export function makeDecideRollingExpiries(deps: DecideRollingDeps): (now: number) => Promise<RollingCounts> {
  const maxRetries = deps.maxConflictRetries ?? 5;

  return async (now) => {
    const rules = new Map<string, RollingRule>();
    for (const rule of await deps.loadRules()) {
      if (!rule.enabled) continue;
      const compiled = compileRule(rule);
      if (compiled.kind === "rolling") rules.set(counterKey(rule), compiled);
    }
    let statesDue = 0;
    let statesAdvanced = 0;
    let statesParked = 0;
    let notifications = 0;

    /** Brings one listed state to `now`; what it holds pending, to send. */
    const advance = async (key: { pk: string; sk: string }): Promise<PendingDelivery | undefined> => {
      for (let attempt = 0; ; attempt++) {
        const read = await deps.readCounter(key);
        // Deleted (cleanup), or the index lags behind a write that moved it: nothing due.
        if (!isRollingItem(read) || read.dueAt === undefined || read.dueAt > now) {
          return pendingOf(read);
        }
        const compiled = rules.get(read.sk);
        let next: RollingItem;
        if (compiled === undefined) {
          next = { ...read, dueShard: parkedShardOf(read.sk), rev: read.rev + 1 };
        } else {
          next = step(compiled, read, await deps.loadWindowFront(read, compiled, now), now, deps.dueShards);
        }
        if (await deps.writeRolling(next, read.rev)) {
          if (compiled === undefined) statesParked++;
          else statesAdvanced++;
          return pendingOf(next);
        }
        if (attempt >= maxRetries) {
          throw new Error(
            `rolling state of ${read.ruleId}: kept changing during the run; the next run retries`,
          );
        }
      }
    };

    const partitions = [
      ...Array.from({ length: deps.dueShards }, (_, shard) => `due#${shard}`),
      ...[...rules.keys()].map(parkedShardOf),
    ];
    for (const partition of partitions) {
      for await (const page of deps.dueStates(partition, now)) {
        const deliveries: PendingDelivery[] = [];
        for (const key of page) {
          statesDue++;
          try {
            const delivery = await advance(key);
            if (delivery !== undefined) deliveries.push(delivery);
          } catch (error: unknown) {
            if (!(error instanceof WindowNotLoadedError)) throw error;
            // Its window items are gone (TTL before the schedule reached them): never decidable.
            deps.log.error("rolling state left due: its window items are missing", { ruleId: error.ruleId });
          }
        }
        notifications += await deliverPending(deliveries, deps.sendMessages, deps.clearPending);
      }
    }
    return { statesDue, statesAdvanced, statesParked, notifications };
  };
}

function pendingOf(item: { pk: string; sk: string; rev: number; pending?: readonly string[] } | undefined) {
  if (item === undefined || (item.pending ?? []).length === 0) return undefined;
  return { key: { pk: item.pk, sk: item.sk }, rev: item.rev, messages: pendingMessages(item.pending) };
}

/** The state after every expiry up to `now` (core `advanceClock`), with its firings pending. */
function step(
  compiled: RollingRule,
  summary: RollingItem,
  front: Parameters<typeof rollingStateOf>[1],
  now: number,
  shards: number,
): RollingItem {
  const result = advanceClock(compiled, rollingStateOf(summary, front), now);
  const target = { appId: summary.appId, userId: summary.userId, endpointId: summary.endpointId };
  const messages = result.firings.map((firing) =>
    rollingMessage(compiled, summary, summary.born, firing, target),
  );
  return rollingSummary({
    key: summary,
    compiled,
    state: result.state,
    target,
    seq: summary.seq,
    born: summary.born,
    // A reset that time fired empties every event applied so far.
    emptied: compiled.resets && result.firings.length > 0 ? summary.seq : summary.emptied,
    rev: summary.rev + 1,
    pending: [...(summary.pending ?? []), ...messages],
    shards,
  });
}
