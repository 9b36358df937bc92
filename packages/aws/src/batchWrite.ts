import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

/** How a batch write retries what DynamoDB did not process. */
export interface RetryOptions {
  /** Requests per chunk of items, the first included (default 8). */
  readonly maxAttempts?: number;
  /** Backoff cap of the first retry, ms; it doubles each retry (default 50). */
  readonly baseDelayMs?: number;
  /** Largest backoff cap, ms (default 2000). */
  readonly maxDelayMs?: number;
  /** Chunks written at the same time (default 4). */
  readonly concurrency?: number;
  /** Waits `ms` (tests inject a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter (tests inject a fixed one). */
  readonly random?: () => number;
}

/** BatchWriteItem's limit of put requests per call. */
export const BATCH_WRITE_LIMIT = 25;

/**
 * Errors that throttle the whole request. The SDK has already retried them a few times; they say
 * "slow down", like UnprocessedItems, so they get the same backoff. Any other error propagates.
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

interface Keyed {
  readonly pk: string;
  readonly sk: string;
}

function keyOf(item: Keyed): string {
  return JSON.stringify([item.pk, item.sk]);
}

/**
 * Puts `items` (any number) into `tableName` with BatchWriteItem, 25 per request. Unprocessed items
 * and throttled requests are retried with exponential backoff and full jitter (a random wait up to
 * a cap that doubles each retry), at most `maxAttempts` requests per chunk. Returns the items still
 * unprocessed after that (the caller's own objects); throws the first error that is not throttling.
 */
export async function batchWrite<T extends Keyed>(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: readonly T[],
  options: RetryOptions = {},
): Promise<T[]> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? sleepFor;
  const random = options.random ?? Math.random;

  async function writeChunk(chunk: readonly T[]): Promise<T[]> {
    const byKey = new Map(chunk.map((item) => [keyOf(item), item]));
    let pending: readonly T[] = chunk;
    for (let attempt = 1; ; attempt++) {
      try {
        const output = await client.send(
          new BatchWriteCommand({
            RequestItems: { [tableName]: pending.map((item) => ({ PutRequest: { Item: { ...item } } })) },
          }),
        );
        const left = output.UnprocessedItems?.[tableName] ?? [];
        // Unprocessed requests come back as DynamoDB saw them: map them to the caller's items by key.
        pending = left.flatMap((request) => {
          const item = request.PutRequest?.Item;
          const original = item === undefined ? undefined : byKey.get(keyOf(item as Keyed));
          return original === undefined ? [] : [original];
        });
        if (pending.length === 0) return [];
      } catch (error: unknown) {
        if (!isThrottling(error)) throw error;
      }
      if (attempt >= maxAttempts) return [...pending];
      const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * cap));
    }
  }

  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += BATCH_WRITE_LIMIT) {
    chunks.push(items.slice(start, start + BATCH_WRITE_LIMIT));
  }
  const unprocessed: T[][] = [];
  let next = 0;
  // A small pool: a large batch is written a few chunks at a time; the first error stops it.
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const index = next++;
      unprocessed[index] = await writeChunk(chunks[index] ?? []);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, chunks.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return unprocessed.flat();
}
