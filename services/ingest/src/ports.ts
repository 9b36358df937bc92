import type { EventItem } from "@pia/aws";
import type { QuarantineItem } from "./quarantineItem.js";

/** What a batch write could not store after its retries; everything else was written. */
export interface WriteResult<T> {
  readonly unprocessed: T[];
}

/** What an event write could not store, and what it found stored already; everything else was written. */
export interface EventWriteResult extends WriteResult<EventItem> {
  /**
   * Items whose key the table already held (a redelivered record, or a producer's duplicate in an
   * earlier batch): not rewritten, the first write wins. Rarely, one written by this call's own
   * earlier attempt, whose answer a server error lost: stored once either way.
   */
  readonly alreadyStored: EventItem[];
}

/**
 * Puts event items (any number) into the events table, each only if not stored yet, a user's in
 * input order. Throws only for non-retryable errors.
 */
export type WriteEvents = (items: readonly EventItem[]) => Promise<EventWriteResult>;

/** Puts quarantine items (any number) into the quarantine table. Throws only for non-retryable errors. */
export type WriteQuarantine = (items: readonly QuarantineItem[]) => Promise<WriteResult<QuarantineItem>>;

/** The clock: epoch milliseconds. */
export type Now = () => number;

/** Structured logging: one port for every service, defined in @pia/aws. */
export type { Log } from "@pia/aws";
