import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { CounterItem } from "@pia/aws";
import type { CounterKey, ReadCounters } from "../ports.js";

/** BatchGetItem's limit of keys per call. */
const BATCH_GET_LIMIT = 100;
const MAX_ATTEMPTS = 8;

/**
 * Reads counters with strongly consistent BatchGetItem, 100 keys per request, retrying unprocessed
 * keys with backoff: a counter read must see the last write, or the optimistic check would fail.
 */
export function buildReadCounters(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly sleep?: (ms: number) => Promise<void> },
): ReadCounters {
  const sleep = config.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (keys) => {
    const items: CounterItem[] = [];
    for (let start = 0; start < keys.length; start += BATCH_GET_LIMIT) {
      let pending: CounterKey[] = keys
        .slice(start, start + BATCH_GET_LIMIT)
        .map(({ pk, sk }) => ({ pk, sk }));
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > MAX_ATTEMPTS) {
          throw new Error(
            `counters: ${pending.length} keys still unprocessed after ${MAX_ATTEMPTS} BatchGetItem attempts`,
          );
        }
        if (attempt > 1) await sleep(Math.floor(Math.random() * Math.min(2000, 50 * 2 ** attempt)));
        const output = await client.send(
          new BatchGetCommand({
            RequestItems: { [config.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        items.push(...((output.Responses?.[config.tableName] ?? []) as CounterItem[]));
        pending = (output.UnprocessedKeys?.[config.tableName]?.Keys ?? []) as CounterKey[];
      }
    }
    return items;
  };
}
