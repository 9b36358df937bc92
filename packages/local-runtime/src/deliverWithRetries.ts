import {
  type BatchFaults,
  crashesMidBatch,
  type FaultKind,
  type FaultState,
  InjectedFaultError,
} from "./faults.js";

/** What a batch consumer answers: the records to retry (`ReportBatchItemFailures`), if any. */
export type BatchResponse = {
  readonly batchItemFailures: ReadonlyArray<{ readonly itemIdentifier: string }>;
};

/** How a stream's event source mapping retries one batch, and the faults it injects meanwhile. */
export interface RetryPolicy<R> {
  /** Lambda's `MaximumRetryAttempts`: the batch is tried at most this many times more. */
  readonly maximumRetryAttempts: number;
  /** The id a handler reports a failed record by (its sequence number). */
  readonly sequenceOf: (record: R) => string;
  readonly faults: BatchFaults;
  readonly faultState: FaultState;
  /** Delivers the first invocation that gets through once more, counted as this kind of fault. */
  readonly duplicate?: FaultKind;
}

/** The batch was given up: what Lambda sends to the mapping's on-failure destination. */
export interface GivenUp {
  readonly records: number;
  /** The last attempt's error, when it threw (rather than reporting item failures). */
  readonly lastError?: string;
}

/**
 * Lambda's retry loop for a stream (Kinesis, DynamoDB Streams) batch: a thrown error retries the
 * whole batch; reported item failures retry from the lowest failed record on, since a shard is
 * read in order. Returns what was given up after `maximumRetryAttempts` retries, or undefined
 * once every record went through.
 */
export async function deliverWithRetries<R>(
  records: R[],
  invoke: (records: R[]) => Promise<BatchResponse | undefined>,
  policy: RetryPolicy<R>,
): Promise<GivenUp | undefined> {
  const { faults, faultState: state } = policy;
  const maxAttempts = policy.maximumRetryAttempts + 1;
  let pending = records;
  let duplicated = false;
  let lastError: string | undefined;
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > maxAttempts)
      return { records: pending.length, ...(lastError === undefined ? {} : { lastError }) };
    let failures: ReadonlyArray<{ itemIdentifier: string }>;
    state.armed = attempt === 1;
    try {
      if (crashesMidBatch(faults, state)) await crashHalfway(pending, invoke);
      failures = (await invoke(pending))?.batchItemFailures ?? [];
      // The first invocation that gets through is delivered again, whatever failed before it.
      if (policy.duplicate !== undefined && !duplicated) {
        duplicated = true;
        state.injected[policy.duplicate]++;
        failures = (await invoke(pending))?.batchItemFailures ?? [];
      }
    } catch (error: unknown) {
      if (attempt === maxAttempts)
        lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      continue;
    } finally {
      state.armed = false;
    }
    if (failures.length === 0) return undefined;
    const failed = new Set(failures.map((failure) => failure.itemIdentifier));
    const first = pending.findIndex((record) => failed.has(policy.sequenceOf(record)));
    pending = first === -1 ? pending : pending.slice(first);
  }
  return undefined;
}

/** Handles the first half of a batch, then crashes, as a timed-out or killed invocation would. */
export async function crashHalfway<R>(
  records: R[],
  invoke: (records: R[]) => Promise<unknown>,
): Promise<never> {
  const half = records.slice(0, Math.floor(records.length / 2));
  if (half.length > 0) await invoke(half);
  throw new InjectedFaultError(`injected: crash after ${half.length} of ${records.length} records`);
}
