import { BatchGetCommand, BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { chunk, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { Delivered, Now } from "../ports.js";

export interface DeliveredConfig {
  /** The delivered table (`TABLES.delivered`: pk = the notification id, TTL `expiresAt`). */
  readonly tableName: string;
  /** Days a delivered id is remembered; longer than a message can come back from the queue. */
  readonly retentionDays: number;
  readonly now: Now;
  readonly retry?: RetryOptions;
}

/** BatchGetItem's limit of keys per call. */
export const BATCH_GET_LIMIT = 100;
/** BatchWriteItem's limit of put requests per call. */
export const BATCH_WRITE_LIMIT = 25;

/** The delivered table left keys unprocessed after every retry. */
export class DeliveredTableError extends Error {
  override readonly name = "DeliveredTableError";
  constructor(operation: "read" | "write", left: number, tableName: string) {
    super(
      `delivered table ${tableName}: ${left} ids still unprocessed after the retries of the ${operation}; the table is throttled: raise its capacity or let the batch be retried`,
    );
  }
}

function pkOf(key: Record<string, unknown> | undefined): string[] {
  const pk = key?.pk;
  return typeof pk === "string" ? [pk] : [];
}

/**
 * The delivered table. `has` reads with BatchGetItem (100 keys a request, strongly consistent: a
 * copy of a message received right after the first was marked must see the mark); `mark` puts
 * `{ pk, expiresAt }` with BatchWriteItem (25 a request). Both retry unprocessed keys and throttled
 * requests with backoff, and throw `DeliveredTableError` when some are still left.
 */
export function buildDelivered(client: DynamoDBDocumentClient, config: DeliveredConfig): Delivered {
  const { tableName } = config;

  async function read(ids: readonly string[], found: Set<string>): Promise<readonly string[]> {
    const output = await client.send(
      new BatchGetCommand({
        RequestItems: {
          [tableName]: { Keys: ids.map((pk) => ({ pk })), ConsistentRead: true, ProjectionExpression: "pk" },
        },
      }),
    );
    for (const item of output.Responses?.[tableName] ?? []) {
      for (const pk of pkOf(item)) found.add(pk);
    }
    return (output.UnprocessedKeys?.[tableName]?.Keys ?? []).flatMap(pkOf);
  }

  async function write(ids: readonly string[], expiresAt: number): Promise<readonly string[]> {
    const output = await client.send(
      new BatchWriteCommand({
        RequestItems: { [tableName]: ids.map((pk) => ({ PutRequest: { Item: { pk, expiresAt } } })) },
      }),
    );
    return (output.UnprocessedItems?.[tableName] ?? []).flatMap((request) => pkOf(request.PutRequest?.Item));
  }

  return {
    async has(ids) {
      const found = new Set<string>();
      // A request must not name a key twice (DynamoDB refuses it).
      for (const keys of chunk([...new Set(ids)], BATCH_GET_LIMIT)) {
        const left = await retryUnprocessed(keys, (pending) => read(pending, found), config.retry);
        if (left.length > 0) throw new DeliveredTableError("read", left.length, tableName);
      }
      return found;
    },

    async mark(ids) {
      const expiresAt = Math.floor(config.now() / 1000) + config.retentionDays * 86_400;
      let left = 0;
      // Every chunk is tried: a mark that is written spares a duplicate delivery later.
      for (const keys of chunk([...new Set(ids)], BATCH_WRITE_LIMIT)) {
        left += (await retryUnprocessed(keys, (pending) => write(pending, expiresAt), config.retry)).length;
      }
      if (left > 0) throw new DeliveredTableError("write", left, tableName);
    },
  };
}
