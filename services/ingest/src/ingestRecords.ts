import { type EventItem, toEventItem } from "@pia/aws";
import {
  DAY_MS,
  type PiaEvent,
  type RecordOutcome,
  type RecordReader,
  recordReader,
  SKIP_REASONS,
} from "@pia/core";
import { checkItemLimits, fitsIndexKeys } from "./checkItemLimits.js";
import type { IngestConfig } from "./config.js";
import type { Log, Now, WriteEvents, WriteQuarantine } from "./ports.js";
import { type QuarantineItem, type QuarantineReason, toQuarantineItem } from "./quarantineItem.js";

/** One Kinesis record: one event as base64 JSON (a Segment batch envelope: several). */
export interface IngestRecord {
  readonly sequenceNumber: string;
  /** Base64 of the record's bytes. */
  readonly data: string;
  /** When the record reached the stream, epoch milliseconds. */
  readonly approximateArrivalTimestamp?: number;
}

/**
 * What happened to a batch. Every record lands in exactly one of `applied`, `duplicate`, `ignored`
 * and `skipped` (docs/rules.md section 2, plus `parse_error`); `failed` counts the records among them
 * whose item could not be written and that are reported for redelivery.
 */
export interface IngestCounts {
  /** Records read: a Segment batch envelope counts once per call it holds. */
  readonly records: number;
  /** New events of this batch: not stored before, sent to the events table. */
  readonly applied: number;
  /**
   * Events not stored by this batch because the first record with their identity wins: one earlier
   * in this batch, or one whose item the events table already holds (a redelivery, or a producer's
   * duplicate in an earlier batch).
   */
  readonly duplicate: number;
  /** System (`_…`) and our own (`trk_…`) events: counted, not stored. */
  readonly ignored: number;
  /** Records sent to the quarantine table, by reason. */
  readonly skipped: Readonly<Record<QuarantineReason, number>>;
  readonly failed: number;
}

export interface IngestResult {
  /** Records to redeliver (Kinesis `ReportBatchItemFailures`), in input order. */
  readonly batchItemFailures: Array<{ itemIdentifier: string }>;
  readonly counts: IngestCounts;
}

export interface IngestDeps
  extends Pick<IngestConfig, "eventRetentionDays" | "quarantineRetentionDays" | "previewIndex"> {
  readonly writeEvents: WriteEvents;
  readonly writeQuarantine: WriteQuarantine;
  readonly now: Now;
  readonly log: Log;
  /** How a record is read (default: `recordReader()`, the `auto` format). */
  readonly reader?: RecordReader;
}

const QUARANTINE_REASONS: readonly QuarantineReason[] = [...SKIP_REASONS, "parse_error"];

/** An item to write and the records it stands for (the first one, then its duplicates). */
interface Pending<T> {
  readonly item: T;
  readonly sequenceNumbers: string[];
}

/**
 * The TTL of an event item, epoch seconds: retention counted from max(event time, now), never from
 * the event time alone. An old event (a late delivery, a replayed stream) would otherwise get an
 * item that expires at once; a redelivery after the TTL deleted it would insert it again, the
 * stream would carry it a second time, and aggregate would count it twice. The start is rounded
 * down to the UTC day: expiries stay coarse. (A redelivery writes nothing whatever its day: items
 * are written once, first write wins.)
 */
function eventExpiresAt(eventTime: number, now: number, retentionDays: number): number {
  const start = Math.max(eventTime, now);
  const day = start - (start % DAY_MS);
  return day / 1000 + retentionDays * 86_400;
}

/**
 * The event's item, stamped `arrivedAt` (this invocation's clock: the time of its first write, as
 * the write is first-write-wins), with the `byTypeDay` index key when the stage keeps that index
 * and the key fits: an event is never quarantined, nor a batch failed, for the sake of the preview
 * index.
 */
function eventItemOf(
  event: PiaEvent,
  expiresAt: number,
  arrivedAt: number,
  previewIndex: boolean,
): EventItem {
  if (previewIndex) {
    const indexed = toEventItem(event, expiresAt, { typeDay: true, arrivedAt });
    if (fitsIndexKeys(indexed) && checkItemLimits(indexed) === undefined) return indexed;
  }
  return toEventItem(event, expiresAt, { arrivedAt });
}

type ReadOutcome = RecordOutcome | { kind: "failed"; detail: string };

/** The reader, which must never throw; if it ever does, the record is kept rather than the shard blocked. */
function readRecord(reader: RecordReader, payload: string): ReadOutcome[] {
  try {
    return reader.read(payload);
  } catch (error: unknown) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return [{ kind: "failed", detail: `the record parser failed (${message.slice(0, 500)})` }];
  }
}

function itemKey(item: { readonly pk: string; readonly sk: string }): string {
  return JSON.stringify([item.pk, item.sk]);
}

/** The sequence numbers of the pending items the write left unprocessed. */
function unwritten<T extends { pk: string; sk: string }>(
  pending: readonly Pending<T>[],
  unprocessed: readonly T[],
): string[] {
  if (unprocessed.length === 0) return [];
  const left = new Set(unprocessed.map(itemKey));
  return pending
    .filter(({ item }) => left.has(itemKey(item)))
    .flatMap(({ sequenceNumbers }) => sequenceNumbers);
}

/**
 * Reads a batch of Kinesis records, stores new events in the events table (first write wins: an
 * event whose item is already stored is not rewritten, and counts as a duplicate) and skipped
 * records in quarantine, and reports as item failures exactly the records whose items are still
 * unwritten after the adapters' retries. Bad input never throws: a poison record is quarantined and the rest
 * of the batch proceeds. Only a write error that retrying cannot fix (access denied, a missing
 * table) throws, which fails the batch as a whole.
 */
export function makeIngestRecords(
  deps: IngestDeps,
): (records: readonly IngestRecord[]) => Promise<IngestResult> {
  const reader = deps.reader ?? recordReader();
  return async function ingestRecords(records) {
    const now = deps.now();
    const skipped = Object.fromEntries(QUARANTINE_REASONS.map((reason) => [reason, 0])) as Record<
      QuarantineReason,
      number
    >;
    let ignored = 0;
    let duplicate = 0;
    const events: Array<Pending<EventItem>> = [];
    const quarantined: Array<Pending<QuarantineItem>> = [];
    /** Identity -> the sequence numbers of the item written (or quarantined) for it. */
    const byIdentity = new Map<string, string[]>();

    let total = 0;
    /** `part`: the call's place in a Segment batch envelope, so that its calls get one item each. */
    const quarantine = (
      record: IngestRecord,
      payload: string,
      reason: QuarantineReason,
      detail: string,
      part: number | undefined,
    ) => {
      skipped[reason]++;
      const input = {
        reason,
        detail,
        payload,
        sequenceNumber: record.sequenceNumber,
        ...(part === undefined ? {} : { part }),
      };
      const arrivedAt = record.approximateArrivalTimestamp;
      const item = toQuarantineItem(
        arrivedAt === undefined ? input : { ...input, arrivedAt },
        now,
        deps.quarantineRetentionDays,
      );
      const sequenceNumbers = [record.sequenceNumber];
      quarantined.push({ item, sequenceNumbers });
      return sequenceNumbers;
    };

    for (const record of records) {
      const payload = Buffer.from(record.data, "base64").toString("utf8");
      const outcomes = readRecord(reader, payload);
      total += outcomes.length;
      for (const [index, outcome] of outcomes.entries()) {
        const part = outcomes.length > 1 ? index : undefined;
        if (outcome.kind === "ignored") {
          ignored++;
        } else if (outcome.kind === "skipped") {
          quarantine(record, payload, outcome.reason, outcome.detail, part);
        } else if (outcome.kind === "failed") {
          quarantine(record, payload, "parse_error", outcome.detail, part);
        } else {
          const { event } = outcome;
          const seen = byIdentity.get(event.identity);
          if (seen !== undefined) {
            duplicate++;
            // Redelivered with the first record when that one's item is not written.
            seen.push(record.sequenceNumber);
            continue;
          }
          const expiresAt = eventExpiresAt(event.timestamp, now, deps.eventRetentionDays);
          const item = eventItemOf(event, expiresAt, now, deps.previewIndex === true);
          const problem = checkItemLimits(item);
          if (problem === undefined) {
            const sequenceNumbers = [record.sequenceNumber];
            events.push({ item, sequenceNumbers });
            byIdentity.set(event.identity, sequenceNumbers);
          } else {
            byIdentity.set(event.identity, quarantine(record, payload, "too_large", problem, part));
          }
        }
      }
    }

    const [eventWrite, quarantineWrite] = await Promise.allSettled([
      events.length === 0
        ? { unprocessed: [], alreadyStored: [] }
        : deps.writeEvents(events.map(({ item }) => item)),
      quarantined.length === 0
        ? { unprocessed: [] }
        : deps.writeQuarantine(quarantined.map(({ item }) => item)),
    ]);
    if (eventWrite.status === "rejected") throw eventWrite.reason;
    if (quarantineWrite.status === "rejected") throw quarantineWrite.reason;

    const failedEvents = unwritten(events, eventWrite.value.unprocessed);
    const failedQuarantine = unwritten(quarantined, quarantineWrite.value.unprocessed);
    if (failedEvents.length > 0) {
      deps.log.warn("event items left unwritten after retries; their records are reported for redelivery", {
        items: eventWrite.value.unprocessed.length,
        records: failedEvents.length,
      });
    }
    if (failedQuarantine.length > 0) {
      deps.log.warn(
        "quarantine items left unwritten after retries; their records are reported for redelivery",
        {
          items: quarantineWrite.value.unprocessed.length,
          records: failedQuarantine.length,
        },
      );
    }

    // Stored by an earlier batch: the first record wins, these are duplicates (and not failures).
    const alreadyStored = eventWrite.value.alreadyStored.length;

    const failed = new Set([...failedEvents, ...failedQuarantine]);
    const batchItemFailures = records
      .filter(({ sequenceNumber }) => failed.has(sequenceNumber))
      .map(({ sequenceNumber }) => ({ itemIdentifier: sequenceNumber }));
    return {
      batchItemFailures,
      counts: {
        records: total,
        applied: events.length - alreadyStored,
        duplicate: duplicate + alreadyStored,
        ignored,
        skipped,
        failed: batchItemFailures.length,
      },
    };
  };
}
