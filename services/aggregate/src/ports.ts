import type { CounterItem, RollingItem, RuleSet } from "@pia/aws";
import type { Rule } from "@pia/core";

/**
 * The current rules: in production a cached rule set, the rules with the backfills of their
 * countings, loaded together; rules alone are a set without backfills.
 */
export type LoadRules = () => Promise<readonly Rule[] | RuleSet>;

export interface CounterKey {
  readonly pk: string;
  readonly sk: string;
}

/** Reads counters by key (any number); absent keys are simply missing from the result. */
export type ReadCounters = (keys: readonly CounterKey[]) => Promise<(CounterItem | RollingItem)[]>;

/** A counter to write, and the `rev` it had when read (undefined: it did not exist). */
export interface CounterWrite {
  readonly item: CounterItem | RollingItem;
  readonly expectedRev: number | undefined;
}

/**
 * Writes counters, each only if it is still as read (optimistic concurrency). Returns the keys
 * that were not written because of a conflict (another writer got there first); they are redone.
 */
export type WriteCounters = (writes: readonly CounterWrite[]) => Promise<{ conflicts: CounterKey[] }>;

/** Sends message bodies to the notifications queue; throws if any could not be sent. */
export type SendMessages = (bodies: readonly { id: string; body: string }[]) => Promise<void>;

/** Removes the pending messages of counters still at the given `rev` (their messages were sent). */
export type ClearPending = (counters: readonly { key: CounterKey; rev: number }[]) => Promise<void>;

/** Structured logging: one port for every service, defined in @pia/aws. */
/** Rolling windows: the front of a stored window and the window items (in @pia/aws). */
export type { LoadWindowFront, Log, PutWindowItems } from "@pia/aws";
