import { StreamUnavailableError } from "./errors.js";
import { PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_RECORDS } from "./limits.js";
import type { Now, PutRecords, Sleep, StreamRecord } from "./ports.js";

export interface PutCallsDeps {
  readonly putRecords: PutRecords;
  readonly now: Now;
  readonly sleep: Sleep;
  /** A number in [0, 1) for the backoff's jitter (tests give a fixed one). */
  readonly random?: () => number;
  /** How long a request may keep retrying what the stream refused, ms. */
  readonly budgetMs: number;
  /** The first retry's backoff cap, ms; it doubles each retry up to `maxDelayMs`. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
}

export interface PutOutcome {
  readonly put: number;
  /** Rounds after the first, each sending what the previous one left. */
  readonly retries: number;
}

/**
 * Errors that refuse the whole request for now ("slow down"); the SDK has retried them already.
 * Their records are retried like the failed records of a partial failure; any other error is
 * thrown (the function fails, and the client is answered 500 and retries).
 */
const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "LimitExceededException",
  "KMSThrottlingException",
  "ThrottlingException",
]);

function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    THROTTLING.has(error.name) ||
    (error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling === true
  );
}

const bytesOf = (record: StreamRecord) =>
  Buffer.byteLength(record.data, "utf8") + Buffer.byteLength(record.partitionKey, "utf8");

/** Records in PutRecords requests: at most 500 records and 5 MiB (data and partition keys) each. */
export function requestsOf(records: readonly StreamRecord[]): StreamRecord[][] {
  const requests: StreamRecord[][] = [];
  let current: StreamRecord[] = [];
  let size = 0;
  for (const record of records) {
    const bytes = bytesOf(record);
    if (
      current.length === PUT_RECORDS_MAX_RECORDS ||
      (current.length > 0 && size + bytes > PUT_RECORDS_MAX_BYTES)
    ) {
      requests.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += bytes;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * Puts every record on the stream: PutRecords requests of at most 500 records / 5 MiB, then the
 * records a partial failure (or a throttled request) left, again and again after exponential
 * backoff with full jitter, while the next try still starts within `budgetMs`. Throws
 * `StreamUnavailableError` when some are left then: the caller answers 503 and the client sends
 * the request again; the calls already put come twice, which ingest de-duplicates.
 */
export function makePutCalls(deps: PutCallsDeps) {
  const { putRecords, now, sleep, budgetMs } = deps;
  const random = deps.random ?? Math.random;
  const baseDelayMs = deps.baseDelayMs ?? 50;
  const maxDelayMs = deps.maxDelayMs ?? 1000;
  return async (records: readonly StreamRecord[]): Promise<PutOutcome> => {
    const deadline = now() + budgetMs;
    let pending = records;
    for (let round = 0; ; round++) {
      const left: StreamRecord[] = [];
      for (const request of requestsOf(pending)) {
        try {
          left.push(...(await putRecords(request)));
        } catch (error: unknown) {
          if (!isThrottling(error)) throw error;
          left.push(...request);
        }
      }
      if (left.length === 0) return { put: records.length, retries: round };
      const delay = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** round));
      if (now() + delay >= deadline) throw new StreamUnavailableError(left.length, records.length);
      await sleep(delay);
      pending = left;
    }
  };
}
