import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { chunk, retryUnprocessed, type RetryOptions as UnprocessedRetryOptions } from "./retryUnprocessed.js";

/** How a batch write retries what DynamoDB did not process. */
export interface RetryOptions extends UnprocessedRetryOptions {
  /** Chunks written at the same time (default 4). */
  readonly concurrency?: number;
}

/** BatchWriteItem's limit of put requests per call. */
export const BATCH_WRITE_LIMIT = 25;

interface Keyed {
  readonly pk: string;
  readonly sk: string;
}

function keyOf(item: Keyed): string {
  return JSON.stringify([item.pk, item.sk]);
}

/**
 * Puts `items` (any number) into `tableName` with BatchWriteItem, 25 per request. Unprocessed items
 * and throttled requests are retried with exponential backoff and full jitter, at most
 * `maxAttempts` requests per chunk. Returns the items still unprocessed after that (the caller's
 * own objects); throws the first error that is not throttling.
 */
export async function batchWrite<T extends Keyed>(
  client: DynamoDBDocumentClient,
  tableName: string,
  items: readonly T[],
  options: RetryOptions = {},
): Promise<T[]> {
  const writeChunk = (items: readonly T[]) => {
    const byKey = new Map(items.map((item) => [keyOf(item), item]));
    return retryUnprocessed(
      items,
      async (pending) => {
        const output = await client.send(
          new BatchWriteCommand({
            RequestItems: { [tableName]: pending.map((item) => ({ PutRequest: { Item: { ...item } } })) },
          }),
        );
        // Unprocessed requests come back as DynamoDB saw them: map them to the caller's items by key.
        return (output.UnprocessedItems?.[tableName] ?? []).flatMap((request) => {
          const item = request.PutRequest?.Item;
          const original = item === undefined ? undefined : byKey.get(keyOf(item as Keyed));
          return original === undefined ? [] : [original];
        });
      },
      options,
    );
  };

  const chunks = chunk(items, BATCH_WRITE_LIMIT);
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
