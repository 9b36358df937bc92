import type { BackfillJobs, CounterItem, RollingItem } from "@pia/aws";
import type { Rule } from "@pia/core";

export type LoadRules = () => Promise<readonly Rule[]>;

/** Every counter of one counter key, page by page (a query on the `byRule` index, never a scan). */
export type CountersOfRule = (counterKey: string) => AsyncIterable<readonly CounterItem[]>;

/** A strongly consistent read of one counter (a rolling state's summary included). */
export type ReadCounter = (key: { pk: string; sk: string }) => Promise<CounterItem | RollingItem | undefined>;

/**
 * The keys of the rolling states in one partition of the sparse `byDue` index (`due#<n>`, or a
 * rule's `parked#<counterKey>`) whose next expiry is at or before `now`, page by page (a query,
 * eventually consistent: the caller reads each state again).
 */
export type DueStates = (
  partition: string,
  now: number,
) => AsyncIterable<readonly { readonly pk: string; readonly sk: string }[]>;

/** Puts a rolling state only if it is still at `expectedRev`; false when another writer changed it. */
export type WriteRolling = (item: RollingItem, expectedRev: number) => Promise<boolean>;

/** The front of a stored rolling window (in @pia/aws). */
export type { LoadWindowFront } from "@pia/aws";

/**
 * Marks a counter fired with one pending message, only if it is still at `rev` and not fired;
 * false when that condition failed.
 */
export type FireCounter = (item: CounterItem, body: string) => Promise<boolean>;

export type SendMessages = (messages: readonly { id: string; body: string }[]) => Promise<void>;
export type ClearPending = (
  counters: readonly { key: { pk: string; sk: string }; rev: number }[],
) => Promise<void>;

/**
 * Closing decisions by counter key, claimed by a run before it decides (kept in the rules table,
 * whose owner in @pia/aws defines them).
 */
export type { ClaimOutcome, ClosingDecisions as Decisions, ScheduleRun } from "@pia/aws";

/** The registry of counter keys ever pushed (the rules table's), to find removed rules without a scan. */
export interface CounterKeyRegistry {
  list(): Promise<readonly { counterKey: string; ruleId: string }[]>;
  forget(counterKey: string): Promise<void>;
}

/** Deletes counters by key (any number). */
export type DeleteCounters = (keys: readonly { pk: string; sk: string }[]) => Promise<void>;

/** The wall clock, epoch ms: what claims expire by (the schedule's own time is the decisions' clock). */
export type Clock = () => number;

/** Structured logging: one port for every service, defined in @pia/aws. */
export type { Log } from "@pia/aws";

/** One page of a query, and the key to start the next one from (absent after the last page). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly next?: Record<string, unknown>;
}

/** The owner of a stored event, as a page of the `byTypeDay` index lists it (one per event). */
export interface EventOwner {
  readonly pk: string;
  readonly appId: string;
  readonly userId: string;
}

/**
 * One page of the events of one `typeDay` (`<eventType>#<UTC day>`) by query on the events
 * table's sparse `byTypeDay` index, from `start` (eventually consistent: the job waits a margin).
 */
export type UsersOfDay = (
  typeDay: string,
  start: Record<string, unknown> | undefined,
) => Promise<Page<EventOwner>>;

/** One page of the counters of one counter key that still hold live matches (`held`), by `byRule`. */
export type HeldCountersOfRule = (
  counterKey: string,
  start: Record<string, unknown> | undefined,
) => Promise<Page<CounterItem>>;

/**
 * Puts a counter only if it is still at `expectedRev`, or (undefined) still absent; false when
 * another writer got there first.
 */
export type WriteCounter = (item: CounterItem, expectedRev: number | undefined) => Promise<boolean>;

/** The backfill jobs of the rules table, as the job reads and moves them. */
export type BackfillJobStore = Pick<BackfillJobs, "list" | "save" | "remove">;
