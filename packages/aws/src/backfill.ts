import type { CounterRule, PiaEvent } from "@pia/core";
import { applyMatches, canonicalDecimal, makeNotification, metricText } from "@pia/core";
import { type CounterItem, NO_SEQUENCE, notificationId } from "./counterItem.js";
import { toMessageBody } from "./notificationMessage.js";

/*
 * Backfill (docs/rules.md section 9): a new counting's counters computed from the events table's
 * stored history, handed over exactly to the live path.
 *
 * The handover is one instant, the boundary B, compared with each stored event's `arrivedAt` (when
 * ingest first stored it; first write wins, so it never moves): events that arrived before B (or
 * carry no stamp: stored before stamps existed) are history, which only backfill counts; events
 * that arrived at or after B are live, which only the stream counts. Both sides read the same
 * stamp on the same item, so no event is counted twice or missed.
 *
 * The backfill job sets B once the rule is stored, at `now + rule cache TTL + margin`: by then
 * every aggregate container has loaded the rule (and its backfill), so the stream counts every
 * live event. History is complete at `settledAt = B + ingest's longest write + margin`: an event
 * stamped before B is stored by then. A user's history is merged at most once, by whoever gets
 * there first (the job, or aggregate on the user's next matching event), through a conditional
 * write of the user's counter; until `settledAt`, aggregate only holds the user's live matches
 * (a held counter), in stream order, to apply after the history.
 */

/** What a backfill does with the firings its history replay decides. */
export type BackfillMode = "notify" | "silent";

export const BACKFILL_MODES: readonly BackfillMode[] = ["notify", "silent"];

/** The instants of one counting's backfill the live path needs (absent until the job sets them). */
export interface BackfillBoundary {
  /** Events that arrived at or after it (epoch ms) are live; earlier ones are history. */
  readonly boundary: number | undefined;
  /** From this instant (epoch ms) a user's history is complete and can be merged. */
  readonly settledAt: number | undefined;
  readonly mode: BackfillMode;
}

/** A live match held by a counter whose history is not merged yet, in stream order. */
export interface HeldMatch {
  /** Event time, epoch ms. */
  readonly at: number;
  /** The padded stream sequence of its record. */
  readonly seq: string;
  readonly metric?: string;
  readonly endpointId?: string;
}

/** Live matches a counter holds at most while its history cannot be merged (a few minutes). */
export const HELD_LIMIT = 1000;

/** A counter that holds live matches and has no history merged yet. */
export function isHeld(item: { readonly held?: readonly HeldMatch[] } | undefined): boolean {
  return item?.held !== undefined;
}

/** The firing label of the one notification a history replay may send (the id is per counter). */
const HISTORY_FIRING = "history";

/** Whether an event that arrived at `arrivedAt` is the live path's to count (else the history's). */
export function isLive(arrivedAt: number | undefined, backfill: BackfillBoundary): boolean {
  return backfill.boundary !== undefined && arrivedAt !== undefined && arrivedAt >= backfill.boundary;
}

/**
 * History in the order it is replayed: event time, then identity. The table keeps no stream order,
 * so a history whose events arrived out of time order is decided as if they had arrived in time
 * order (docs/rules.md section 9).
 */
export function historyOrder(a: PiaEvent, b: PiaEvent): number {
  return a.timestamp - b.timestamp || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0);
}

/** Who a counter belongs to. */
export interface CounterOwner {
  readonly pk: string;
  readonly sk: string;
  readonly appId: string;
  readonly userId: string;
}

/**
 * The held counter after more live matches (`fresh`, in stream order, every one after the counter's
 * `seq`): totals stay empty, nothing is decided. Undefined when the counter would hold more than
 * `HELD_LIMIT` matches (its records are retried until the history can be merged).
 */
export function holdMatches(
  compiled: CounterRule,
  owner: CounterOwner,
  item: CounterItem | undefined,
  fresh: readonly HeldMatch[],
): CounterItem | undefined {
  const held = [...(item?.held ?? []), ...fresh];
  if (held.length > HELD_LIMIT) return undefined;
  return {
    ...counterHead(compiled, owner, item, fresh, item?.endpointId),
    count: 0,
    sum: "0",
    fired: false,
    held,
    ...(item?.pending === undefined ? {} : { pending: item.pending }),
  };
}

export interface MergeInput {
  readonly compiled: CounterRule;
  readonly owner: CounterOwner;
  readonly mode: BackfillMode;
  /** The user's matching history events (arrived before the boundary), in any order. */
  readonly history: readonly PiaEvent[];
  /** Live matches after the history, in stream order: the held ones, then this batch's. */
  readonly live: readonly HeldMatch[];
  /** The counter replaced: absent, or held (its `rev`, `pending` and `seq` carry over). */
  readonly item: CounterItem | undefined;
}

/**
 * A user's counter with its history merged: the history replayed in `historyOrder` from empty
 * totals, then the live matches in stream order, by the same `applyMatches` as the live path.
 * The history's firings collapse into one notification, the last (a user who already qualifies is
 * notified once), and into none with `silent`; live firings are notified as the live path does.
 * Undefined when there is nothing to store (no history and no live match).
 */
export function mergeBackfill(input: MergeInput): CounterItem | undefined {
  const { compiled, owner, item } = input;
  const history = [...input.history].sort(historyOrder);
  if (history.length === 0 && input.live.length === 0 && (item?.pending ?? []).length === 0) {
    return undefined;
  }
  let endpointId = item?.endpointId;
  const historyMatches = history.map((event) => {
    endpointId = event.endpointId ?? endpointId;
    return { timestamp: event.timestamp, metric: metricText(compiled, event), endpointId };
  });
  const replayed = applyMatches(compiled, undefined, historyMatches);
  const pending = [...(item?.pending ?? [])];
  const lastHistoryFiring = replayed.firings[replayed.firings.length - 1];
  if (input.mode === "notify" && lastHistoryFiring !== undefined) {
    pending.push(
      messageOf(compiled, owner, HISTORY_FIRING, lastHistoryFiring.match.endpointId, lastHistoryFiring.at),
    );
  }
  const liveMatches = input.live.map((match) => {
    endpointId = match.endpointId ?? endpointId;
    return { timestamp: match.at, metric: match.metric, seq: match.seq, endpointId };
  });
  const step = applyMatches(compiled, replayed.state, liveMatches);
  for (const { match, at } of step.firings) {
    pending.push(messageOf(compiled, owner, match.seq, match.endpointId, at));
  }
  return {
    ...counterHead(compiled, owner, item, input.live, endpointId),
    count: step.state.count,
    sum: canonicalDecimal(step.state.sum),
    fired: step.state.fired,
    pending,
  };
}

/** What every counter item written here carries besides its totals: keys, owner, `seq` and `rev`. */
function counterHead(
  compiled: CounterRule,
  owner: CounterOwner,
  item: CounterItem | undefined,
  applied: readonly HeldMatch[],
  endpointId: string | undefined,
) {
  return {
    pk: owner.pk,
    sk: owner.sk,
    counterKey: owner.sk,
    ruleId: compiled.rule.id,
    appId: owner.appId,
    userId: owner.userId,
    ...(endpointId === undefined ? {} : { endpointId }),
    // The last stream record applied (or held): records at or below it are never applied again.
    seq: applied[applied.length - 1]?.seq ?? item?.seq ?? NO_SEQUENCE,
    rev: (item?.rev ?? 0) + 1,
  };
}

function messageOf(
  compiled: CounterRule,
  owner: CounterOwner,
  firing: string,
  endpointId: string | undefined,
  at: number,
): string {
  const notification = makeNotification(
    compiled.rule,
    { appId: owner.appId, userId: owner.userId, endpointId },
    at,
  );
  const sink = compiled.rule.action.sink;
  return toMessageBody({
    id: notificationId(owner, firing),
    notification,
    ...(sink === undefined ? {} : { sink }),
  });
}

/** The live matches of `events` (a batch's, in stream order) as a held counter keeps them. */
export function heldMatchesOf(
  compiled: CounterRule,
  events: readonly { readonly event: PiaEvent; readonly seq: string }[],
): HeldMatch[] {
  return events.map(({ event, seq }) => {
    const metric = metricText(compiled, event);
    return {
      at: event.timestamp,
      seq,
      ...(metric === undefined ? {} : { metric }),
      ...(event.endpointId === undefined ? {} : { endpointId: event.endpointId }),
    };
  });
}
