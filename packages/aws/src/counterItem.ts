import { hash } from "node:crypto";
import type { CounterState } from "@pia/core";
import { toDecimal } from "@pia/core";
import type { HeldMatch } from "./backfill.js";

/**
 * A per-user rule counter as the counters table stores it (`TABLES.counters`), written by
 * aggregate (streaming totals) and timeseries (closing decisions).
 */
export interface CounterItem {
  /** `userKey(appId, userId)`. */
  readonly pk: string;
  /** `counterKey(rule)`: the rule id and a fingerprint of what it counts. */
  readonly sk: string;
  /** Same as `sk`: the key of the `byRule` index, which finds a rule's counters by query. */
  readonly counterKey: string;
  readonly ruleId: string;
  readonly appId: string;
  readonly userId: string;
  readonly endpointId?: string;
  readonly count: number;
  /** Exact decimal text: a string, so no float ever touches it. */
  readonly sum: string;
  readonly fired: boolean;
  /**
   * The highest stream sequence number applied, left-padded to 40 digits so that string order is
   * numeric order: records at or below it are already in the totals (re-delivery is a no-op).
   */
  readonly seq: string;
  /** Bumped by every write, whoever makes it: writers condition on it (optimistic concurrency). */
  readonly rev: number;
  /** Message bodies decided (in the same write as the totals) but not yet confirmed sent. */
  readonly pending?: readonly string[];
  /**
   * Present while a backfilled counting has not merged this user's history (docs/rules.md section
   * 9): the live matches, in stream order, to apply after it; the totals are empty until then.
   */
  readonly held?: readonly HeldMatch[];
}

const SEQUENCE_DIGITS = 40;

/** A DynamoDB Streams sequence number (up to 40 digits) in a form whose string order is numeric. */
export function paddedSequence(sequenceNumber: string): string {
  if (!/^\d{1,40}$/.test(sequenceNumber)) {
    throw new RangeError(`not a stream sequence number: ${JSON.stringify(sequenceNumber)}`);
  }
  return sequenceNumber.padStart(SEQUENCE_DIGITS, "0");
}

/** The sequence of a counter that has applied nothing yet. */
export const NO_SEQUENCE = "0".repeat(SEQUENCE_DIGITS);

export function counterStateOf(item: CounterItem | undefined): CounterState {
  return item === undefined
    ? { count: 0, sum: toDecimal(0), fired: false }
    : { count: item.count, sum: toDecimal(item.sum), fired: item.fired };
}

/**
 * The id of one firing of a counter (`firing`: the stream sequence of the firing event, or
 * `closing`): the same however often the same firing is decided, so the notifier drops repeats.
 */
export function notificationId(
  counter: { readonly pk: string; readonly sk: string },
  firing: string,
): string {
  return hash("sha256", `${counter.pk}\u0000${counter.sk}\u0000${firing}`, "base64url").slice(0, 32);
}

/** A counter's pending message bodies with their ids (each body is a `toMessageBody` text). */
export function pendingMessages(pending: readonly string[] | undefined): { id: string; body: string }[] {
  return (pending ?? []).map((body) => ({ id: (JSON.parse(body) as { id: string }).id, body }));
}
