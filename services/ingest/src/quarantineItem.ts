import type { SkipReason } from "@pia/core";

/**
 * Why a record was quarantined: a skip reason of docs/rules.md section 2, `too_large` among them (a
 * record over 1 MiB, and here also a valid event whose item DynamoDB would refuse: a key or the
 * item over its size limit), or `parse_error` (the parser failed unexpectedly; a bug, kept here
 * rather than blocking the shard).
 */
export type QuarantineReason = SkipReason | "parse_error";

/** A skipped record, kept inspectable in the quarantine table (`TABLES.quarantine`). */
export interface QuarantineItem {
  /** `<reason>#<UTC day of ingestion>`: one day's records of one reason read with one query. */
  readonly pk: string;
  /**
   * `<ingestion epoch ms, 16 digits>#<Kinesis sequence number>`, then `#<call>` for a call of a
   * Segment batch envelope: arrival order, then source position.
   */
  readonly sk: string;
  readonly reason: QuarantineReason;
  /** Which check failed (never a value from the record). */
  readonly detail: string;
  /** The payload as UTF-8 text, cut to `MAX_RAW_BYTES`. */
  readonly raw: string;
  /** Present (true) only when `raw` was cut. */
  readonly truncated?: true;
  /** Ingestion time, ISO 8601 UTC. */
  readonly receivedAt: string;
  /** When the record reached the stream (Kinesis approximate arrival), ISO 8601 UTC, when known. */
  readonly arrivedAt?: string;
  /** TTL, epoch seconds. */
  readonly expiresAt: number;
}

/** 256 KiB: the largest raw payload kept, well inside DynamoDB's 400 KB item limit. */
export const MAX_RAW_BYTES = 256 * 1024;

/** Digits of the largest valid epoch millisecond (8.64e15), so that keys sort by time. */
const TIME_DIGITS = 16;

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`, never splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): { text: string; truncated: boolean } {
  // Every UTF-16 unit takes at most 3 UTF-8 bytes, so short texts need no encoding.
  if (text.length * 3 <= maxBytes) return { text, truncated: false };
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return { text, truncated: false };
  let end = maxBytes;
  // Back up over continuation bytes (10xxxxxx) to the start of the character that did not fit.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return { text: bytes.subarray(0, end).toString("utf8"), truncated: true };
}

export interface QuarantineInput {
  readonly reason: QuarantineReason;
  readonly detail: string;
  /** The record's payload as UTF-8 text. */
  readonly payload: string;
  readonly sequenceNumber: string;
  /** The call's place in a Segment batch envelope, whose calls are quarantined one item each. */
  readonly part?: number;
  /** Kinesis approximate arrival, epoch ms. */
  readonly arrivedAt?: number;
}

export function toQuarantineItem(input: QuarantineInput, now: number, retentionDays: number): QuarantineItem {
  const raw = truncateUtf8(input.payload, MAX_RAW_BYTES);
  const received = new Date(now).toISOString();
  const arrived = input.arrivedAt === undefined ? undefined : new Date(input.arrivedAt);
  // Keyed by the record's arrival on the stream when known: a retried batch rewrites the same
  // item instead of quarantining the record a second time.
  const keyTime = arrived === undefined || Number.isNaN(arrived.getTime()) ? now : arrived.getTime();
  return {
    pk: `${input.reason}#${new Date(keyTime).toISOString().slice(0, 10)}`,
    sk: `${String(keyTime).padStart(TIME_DIGITS, "0")}#${input.sequenceNumber}${input.part === undefined ? "" : `#${input.part}`}`,
    reason: input.reason,
    detail: input.detail,
    raw: raw.text,
    ...(raw.truncated ? { truncated: true as const } : {}),
    receivedAt: received,
    ...(arrived === undefined || Number.isNaN(arrived.getTime()) ? {} : { arrivedAt: arrived.toISOString() }),
    expiresAt: Math.floor(now / 1000) + retentionDays * 86_400,
  };
}
