/** How a batch request retries what DynamoDB did not process. */
export interface RetryOptions {
  /** Requests per chunk, the first included (default 8). */
  readonly maxAttempts?: number;
  /** Backoff cap of the first retry, ms; it doubles each retry (default 50). */
  readonly baseDelayMs?: number;
  /** Largest backoff cap, ms (default 2000). */
  readonly maxDelayMs?: number;
  /** Waits `ms` (tests inject a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter (tests inject a fixed one). */
  readonly random?: () => number;
}

/**
 * Errors that throttle the whole request. The SDK has already retried them a few times; they say
 * "slow down", like unprocessed items, so they get the same backoff. Any other error propagates.
 */
const THROTTLING_ERRORS = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
]);

function isThrottling(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (THROTTLING_ERRORS.has(error.name)) return true;
  return (error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling === true;
}

function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Sends `pending` with `send`, which answers what is left unprocessed, and sends what is left again
 * after exponential backoff with full jitter (a random wait up to a cap that doubles each retry),
 * at most `maxAttempts` times. A throttled request counts as leaving everything. Returns what is
 * still left after the last attempt; throws the first error that is not throttling.
 */
export async function retryUnprocessed<T>(
  pending: readonly T[],
  send: (pending: readonly T[]) => Promise<readonly T[]>,
  options: RetryOptions = {},
): Promise<T[]> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? sleepFor;
  const random = options.random ?? Math.random;
  let left = pending;
  for (let attempt = 1; left.length > 0; attempt++) {
    try {
      left = await send(left);
      if (left.length === 0) break;
    } catch (error: unknown) {
      if (!isThrottling(error)) throw error;
    }
    if (attempt >= maxAttempts) break;
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    await sleep(Math.floor(random() * cap));
  }
  return [...left];
}

/** `items` in slices of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
