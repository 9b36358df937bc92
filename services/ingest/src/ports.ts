import type { EventItem } from "@pia/aws";
import type { QuarantineItem } from "./quarantineItem.js";

/** What a batch write could not store after its retries; everything else was written. */
export interface WriteResult<T> {
  readonly unprocessed: T[];
}

/** Puts event items (any number) into the events table. Throws only for non-retryable errors. */
export type WriteEvents = (items: readonly EventItem[]) => Promise<WriteResult<EventItem>>;

/** Puts quarantine items (any number) into the quarantine table. Throws only for non-retryable errors. */
export type WriteQuarantine = (items: readonly QuarantineItem[]) => Promise<WriteResult<QuarantineItem>>;

/** The clock: epoch milliseconds. */
export type Now = () => number;

/** Structured logging: one port for every service, defined in @pia/aws. */
export type { Log } from "@pia/aws";
