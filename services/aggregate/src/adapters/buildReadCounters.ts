import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { CounterItem, RollingItem } from "@pia/aws";
import { chunk, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { CounterKey, ReadCounters } from "../ports.js";

/** BatchGetItem's limit of keys per call. */
const BATCH_GET_LIMIT = 100;

/**
 * Reads counters with strongly consistent BatchGetItem, 100 keys per request, retrying unprocessed
 * keys with backoff: a counter read must see the last write, or the optimistic check would fail.
 */
export function buildReadCounters(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly retry?: RetryOptions },
): ReadCounters {
  return async (keys) => {
    const items: (CounterItem | RollingItem)[] = [];
    for (const keysChunk of chunk(keys, BATCH_GET_LIMIT)) {
      const left = await retryUnprocessed(
        keysChunk.map(({ pk, sk }) => ({ pk, sk })),
        async (pending) => {
          const output = await client.send(
            new BatchGetCommand({
              RequestItems: { [config.tableName]: { Keys: [...pending], ConsistentRead: true } },
            }),
          );
          items.push(...((output.Responses?.[config.tableName] ?? []) as (CounterItem | RollingItem)[]));
          return (output.UnprocessedKeys?.[config.tableName]?.Keys ?? []) as CounterKey[];
        },
        config.retry,
      );
      if (left.length > 0)
        throw new Error(`counters: ${left.length} keys still unprocessed after the BatchGetItem retries`);
    }
    return items;
  };
}
