import { hash } from "node:crypto";
import type { RollingFiring, RollingRule, RollingState, RuleMatch, WindowEvent } from "@pia/core";
import { canonicalDecimal, makeNotification, nextDue, toDecimal } from "@pia/core";
import { NO_SEQUENCE, notificationId } from "./counterItem.js";
import { DEFAULTS } from "./defaults.js";
import { toMessageBody } from "./notificationMessage.js";

/*
 * A rolling window's state in the counters table (docs/rules.md section 4.4), in two kinds of item,
 * each small and of a fixed size whatever a user does:
 *
 * - the summary, at the counter's key (pk = the user, sk = the counter key): the window's totals,
 *   `in`, `w`, `notified`, the stream sequence bookkeeping and, while time can change the state,
 *   its due instant in the sparse `byDue` index. It holds no event list.
 * - one window item per applied matching event, at `${counterKey}#w#${born}#${at}#${seq}`: the
 *   event's time, stream sequence and metric. Written (idempotently) before the summary's
 *   conditional write; read back, only the front of the window (`windowFrontNeeded`), when a step
 *   can make events expire. Items are never deleted by the pipeline: the summary says which are
 *   valid (`isLiveWindowItem`) and TTL collects the rest.
 */

/** A rolling rule's state for one user, as stored at the counter's key. */
export interface RollingItem {
  /** `userKey(appId, userId)`. */
  readonly pk: string;
  /** `counterKey(rule)`. */
  readonly sk: string;
  /** Same as `sk`: the `byRule` index finds it (closing decisions skip it, cleanup deletes it). */
  readonly counterKey: string;
  readonly kind: "rolling";
  readonly ruleId: string;
  readonly appId: string;
  readonly userId: string;
  readonly endpointId?: string;
  /** Events in the window (all of them, not only those loaded). */
  readonly count: number;
  /** Exact decimal text: the window's sum. */
  readonly sum: string;
  readonly in: boolean;
  /** The latest instant decided, epoch ms. */
  readonly w: number;
  /** Notifications given so far (the last one's `seq`). */
  readonly notified: number;
  /** The highest stream sequence applied (padded, `paddedSequence`). */
  readonly seq: string;
  /**
   * The padded stream sequence of the event that created this state: it names this life of the
   * state. Window items live under it, so a state created again with the same counter key (a rule
   * removed, cleaned up and pushed again) never sees the items of an earlier life, and the order
   * stream of its notifications is new.
   */
  readonly born: string;
  /** Window items with a sequence at or below this one were emptied by a reset (padded). */
  readonly emptied: string;
  readonly rev: number;
  readonly pending?: readonly string[];
  /** Only while time can change the state: the `byDue` index's partition (`due#<n>`) ... */
  readonly dueShard?: string;
  /** ... and sort key: core `nextDue`, epoch ms. */
  readonly dueAt?: number;
}

/** One applied matching event of a rolling window. */
export interface WindowItem {
  readonly pk: string;
  /** `windowItemSk(counterKey, born, at, seq)`. */
  readonly sk: string;
  readonly at: number;
  /** Padded stream sequence of the event. */
  readonly seq: string;
  /** Decimal text the event adds to the sum, absent when it lacks the metric. */
  readonly metric?: string;
  /** TTL, epoch seconds. */
  readonly expiresAt: number;
}

/** Digits of a padded event time: timestamps are whole ms in [0, 8.64e15]. */
const AT_DIGITS = 16;

/** An event time (epoch ms, >= 0) whose string order is numeric order; negatives clamp to 0. */
export function paddedAt(at: number): string {
  return String(Math.max(0, Math.trunc(at))).padStart(AT_DIGITS, "0");
}

/** Every window item of one life of a state starts with this. */
export function windowPrefix(counterKey: string, born: string): string {
  return `${counterKey}#w#${born}#`;
}

/** `~` sorts after every digit: an upper bound for every key with a given time. */
export const AFTER = "~";

export function windowItemSk(counterKey: string, born: string, at: number, seq: string): string {
  return `${windowPrefix(counterKey, born)}${paddedAt(at)}#${seq}`;
}

/** Whether a summary item of the counters table is a rolling state's. */
export function isRollingItem(item: object | undefined): item is RollingItem {
  return item !== undefined && "kind" in item && item.kind === "rolling";
}

/**
 * Whether a window item (of the summary's life) counts in the summary's window: applied by a write
 * that won (seq <= summary.seq), not emptied by a reset, and not expired at w. Items of a lost
 * write, of a too-late event, of an emptied window or already expired are so ignored, and need no
 * delete.
 */
export function isLiveWindowItem(summary: RollingItem, compiled: RollingRule, item: WindowItem): boolean {
  return item.seq > summary.emptied && item.seq <= summary.seq && item.at > summary.w - compiled.length;
}

/** The core's state of a summary with the front of its window (`events`, in window order). */
export function rollingStateOf(summary: RollingItem, events: readonly WindowEvent[]): RollingState {
  return {
    kind: "rolling",
    events,
    count: summary.count,
    sum: toDecimal(summary.sum),
    in: summary.in,
    w: summary.w,
    notified: summary.notified,
  };
}

/** The `byDue` index's partition of a state: a stable spread of states over `shards` partitions. */
export function dueShardOf(key: { readonly pk: string; readonly sk: string }, shards: number): string {
  const digest = hash("sha256", `${key.pk}\u0000${key.sk}`, "buffer");
  return `due#${digest.readUInt32BE(0) % shards}`;
}

/** The partition where the states of a rule that is not enabled wait (each run asks enabled rules'). */
export function parkedShardOf(counterKey: string): string {
  return `parked#${counterKey}`;
}

/** The order stream of a state's notifications: one per life of (user, rule counter). */
export function orderStreamOf(key: { readonly pk: string; readonly sk: string }, born: string): string {
  return hash("sha256", `${key.pk}\u0000${key.sk}\u0000${born}`, "base64url").slice(0, 32);
}

/** Who a notification is about. */
export interface RollingTarget {
  readonly appId: string;
  readonly userId: string;
  readonly endpointId?: string | undefined;
}

/**
 * The message body of a rolling firing: a deterministic id (the state's life and the firing's
 * `seq`, so a firing decided again is dropped by id), the notification with its `seq` and value,
 * and its place in the state's order stream.
 */
export function rollingMessage(
  compiled: RollingRule,
  key: { readonly pk: string; readonly sk: string },
  born: string,
  firing: RollingFiring<RuleMatch>,
  target: RollingTarget,
): string {
  const rule = compiled.rule;
  const id = notificationId(key, `r${born}#${firing.seq}`);
  const notification = makeNotification(rule, target, firing.at, {
    seq: firing.seq,
    ...(firing.value === undefined ? {} : { value: firing.value }),
  });
  return toMessageBody({
    id,
    notification,
    ...(rule.action.sink === undefined ? {} : { sink: rule.action.sink }),
    order: { stream: orderStreamOf(key, born), seq: firing.seq },
  });
}

/** What a step leaves of a state, to store: the summary's own fields come from the caller. */
export interface RollingSummaryFields {
  readonly key: { readonly pk: string; readonly sk: string };
  readonly compiled: RollingRule;
  readonly state: RollingState;
  readonly target: RollingTarget;
  readonly seq: string;
  readonly born: string;
  readonly emptied: string;
  readonly rev: number;
  readonly pending: readonly string[];
  readonly shards: number;
}

/** The summary item after a step, in the `byDue` index exactly while `nextDue` is defined. */
export function rollingSummary(fields: RollingSummaryFields): RollingItem {
  const { key, compiled, state, target } = fields;
  const due = nextDue(compiled, state);
  return {
    pk: key.pk,
    sk: key.sk,
    counterKey: key.sk,
    kind: "rolling",
    ruleId: compiled.rule.id,
    appId: target.appId,
    userId: target.userId,
    ...(target.endpointId === undefined ? {} : { endpointId: target.endpointId }),
    count: state.count,
    sum: canonicalDecimal(state.sum),
    in: state.in,
    w: state.w,
    notified: state.notified,
    seq: fields.seq,
    born: fields.born,
    emptied: fields.emptied,
    rev: fields.rev,
    ...(fields.pending.length === 0 ? {} : { pending: [...fields.pending] }),
    ...(due === undefined ? {} : { dueShard: dueShardOf(key, fields.shards), dueAt: due }),
  };
}

/** Days a window item is kept after it can last matter (its expiry, or its write if later). */
export const WINDOW_ITEM_MARGIN_DAYS = DEFAULTS.counters.windowItemMarginDays;

/**
 * A window item's TTL: the event's expiry instant or the write's wall-clock time, whichever is
 * later, plus a margin. A historical event (already expired when written) is so kept until the
 * schedule has surely decided its expiry, rather than collected before anyone read it.
 */
export function windowItemExpiry(at: number, length: number, writtenAt: number): number {
  return Math.ceil((Math.max(at + length, writtenAt) + WINDOW_ITEM_MARGIN_DAYS * 86_400_000) / 1000);
}

export { NO_SEQUENCE };
