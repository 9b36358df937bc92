import type { LoadWindowFront, RollingItem, RollingTarget, WindowItem } from "@pia/aws";
import {
  NO_SEQUENCE,
  rollingMessage,
  rollingStateOf,
  rollingSummary,
  windowItemExpiry,
  windowItemSk,
} from "@pia/aws";
import type { PiaEvent, RollingRule, RollingState } from "@pia/core";
import { applyMatches, metricText } from "@pia/core";
import type { CounterKey } from "./ports.js";

/** A matching event of this batch, with its padded stream sequence. */
export interface RollingApplied {
  readonly event: PiaEvent;
  readonly seq: string;
}

export interface RollingCounterDeps {
  readonly loadWindowFront: LoadWindowFront;
  /** Wall clock, epoch ms: only for the window items' TTL. */
  readonly clock: () => number;
  readonly dueShards: number;
}

/**
 * A rolling state after this batch's events it has not applied yet (docs/rules.md 4.4): the front
 * of the window that can expire by the batch's latest instant is loaded, the core applies the
 * events one by one (expiries before each are decided first), and the result is the summary to
 * write (with the messages of every entry and exit pending) and the window items to put before it.
 * Undefined when every event was already applied (a redelivered record).
 */
export async function applyRollingCounter(
  deps: RollingCounterDeps,
  compiled: RollingRule,
  key: CounterKey,
  events: readonly RollingApplied[],
  summary: RollingItem | undefined,
): Promise<{ item: RollingItem; windowItems: WindowItem[] } | undefined> {
  const fresh = events.filter(({ seq }) => seq > (summary?.seq ?? NO_SEQUENCE));
  const first = fresh[0];
  if (first === undefined) return undefined;
  const born = summary?.born ?? first.seq;
  let emptied = summary?.emptied ?? NO_SEQUENCE;
  let state: RollingState | undefined;
  if (summary !== undefined) {
    // Everything that can expire up to the batch's latest instant, and the next one after.
    const until = Math.max(summary.w, ...fresh.map(({ event }) => event.timestamp));
    state = rollingStateOf(summary, await deps.loadWindowFront(summary, compiled, until));
  }
  let target: RollingTarget = {
    appId: first.event.appId,
    userId: first.event.userId,
    endpointId: summary?.endpointId,
  };
  let previousSeq = summary?.seq ?? NO_SEQUENCE;
  const writtenAt = deps.clock();
  const windowItems: WindowItem[] = [];
  const pending = [...(summary?.pending ?? [])];
  for (const { event, seq } of fresh) {
    const metric = metricText(compiled, event);
    // Too late for any open window (s <= w - L): it counts nowhere, so it needs no item.
    const tooLate = state !== undefined && event.timestamp <= state.w - compiled.length;
    // Expiries before the event are decided with the endpoint known until then.
    const before = target;
    // A notification addresses the latest endpoint known when it fired.
    target = { ...target, endpointId: event.endpointId ?? target.endpointId };
    const step = applyMatches(compiled, state, [{ timestamp: event.timestamp, metric }]);
    for (const firing of step.firings) {
      // A reset empties the window: of this event when it fired, of those before when time did.
      if (compiled.resets) emptied = firing.match === undefined ? previousSeq : seq;
      pending.push(rollingMessage(compiled, key, born, firing, firing.match === undefined ? before : target));
    }
    state = step.state;
    previousSeq = seq;
    if (!tooLate) {
      windowItems.push({
        pk: key.pk,
        sk: windowItemSk(key.sk, born, event.timestamp, seq),
        at: event.timestamp,
        seq,
        ...(metric === undefined ? {} : { metric }),
        expiresAt: windowItemExpiry(event.timestamp, compiled.length, writtenAt),
      });
    }
  }
  if (state === undefined) return undefined;
  const last = fresh[fresh.length - 1] as RollingApplied;
  return {
    item: rollingSummary({
      key,
      compiled,
      state,
      target: { ...target, appId: last.event.appId, userId: last.event.userId },
      seq: last.seq,
      born,
      emptied,
      rev: (summary?.rev ?? 0) + 1,
      pending,
      shards: deps.dueShards,
    }),
    // The events a reset emptied would never be read: not written at all.
    windowItems: windowItems.filter((item) => item.seq > emptied),
  };
}
