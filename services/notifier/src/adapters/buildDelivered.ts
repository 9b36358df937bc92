import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { chunk, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { Delivered, Now } from "../ports.js";

export interface DeliveredConfig {
  /**
   * The delivered table (`TABLES.delivered`: pk = the notification id, or `order#<stream>` for a
   * stream's high-water mark; TTL `expiresAt`).
   */
  readonly tableName: string;
  /** Days a delivered id is remembered; longer than a message can come back from the queue. */
  readonly retentionDays: number;
  /**
   * Days a stream's high-water mark is remembered after its last advance; default
   * `ORDER_RETENTION_DAYS`. A stream idle for longer loses its mark: its next message (seq > 1)
   * then waits as a gap until its last receive.
   */
  readonly orderRetentionDays?: number;
  readonly now: Now;
  readonly retry?: RetryOptions;
}

/** BatchGetItem's limit of keys per call. */
export const BATCH_GET_LIMIT = 100;
/** BatchWriteItem's limit of put requests per call. */
export const BATCH_WRITE_LIMIT = 25;

/** Default days a stream's high-water mark outlives its last advance (a rolling window is at most 400 days). */
export const ORDER_RETENTION_DAYS = 400;

/** The partition key of a stream's high-water mark, beside the notification ids. */
export function orderKey(stream: string): string {
  return `order#${stream}`;
}

/** The delivered table left keys unprocessed after every retry. */
export class DeliveredTableError extends Error {
  override readonly name = "DeliveredTableError";
  constructor(operation: "read" | "write", left: number, tableName: string, what = "ids") {
    super(
      `delivered table ${tableName}: ${left} ${what} still unprocessed after the retries of the ${operation}; the table is throttled: raise its capacity or let the batch be retried`,
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
 *
 * A stream's high-water mark is the item `{ pk: "order#" + stream, seq, expiresAt }`. `highWater`
 * reads the marks as `has` reads ids (strongly consistent BatchGetItem); `advance` is one UpdateItem
 * `SET seq = to` on the condition `attribute_not_exists(seq) OR seq < to` (never backwards), and
 * tells from the old value whether the mark was `from`. Throttled updates are retried the same way.
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

  async function readMarks(
    streams: readonly string[],
    found: Map<string, number>,
  ): Promise<readonly string[]> {
    const output = await client.send(
      new BatchGetCommand({
        RequestItems: {
          [tableName]: {
            Keys: streams.map((stream) => ({ pk: orderKey(stream) })),
            ConsistentRead: true,
            ProjectionExpression: "pk, #seq",
            ExpressionAttributeNames: { "#seq": "seq" },
          },
        },
      }),
    );
    const byKey = new Map(streams.map((stream) => [orderKey(stream), stream]));
    for (const item of output.Responses?.[tableName] ?? []) {
      const stream = byKey.get(pkOf(item)[0] ?? "");
      const seq = item.seq;
      if (stream !== undefined && typeof seq === "number") found.set(stream, seq);
    }
    return (output.UnprocessedKeys?.[tableName]?.Keys ?? []).flatMap((key) =>
      pkOf(key).flatMap((pk) => byKey.get(pk) ?? []),
    );
  }

  const expiry = (days: number) => Math.floor(config.now() / 1000) + days * 86_400;

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
      const expiresAt = expiry(config.retentionDays);
      let left = 0;
      // Every chunk is tried: a mark that is written spares a duplicate delivery later.
      for (const keys of chunk([...new Set(ids)], BATCH_WRITE_LIMIT)) {
        left += (await retryUnprocessed(keys, (pending) => write(pending, expiresAt), config.retry)).length;
      }
      if (left > 0) throw new DeliveredTableError("write", left, tableName);
    },

    async highWater(streams) {
      const found = new Map<string, number>();
      for (const keys of chunk([...new Set(streams)], BATCH_GET_LIMIT)) {
        const left = await retryUnprocessed(keys, (pending) => readMarks(pending, found), config.retry);
        if (left.length > 0) throw new DeliveredTableError("read", left.length, tableName, "stream marks");
      }
      return found;
    },

    async advance(stream, from, to) {
      const expiresAt = expiry(config.orderRetentionDays ?? ORDER_RETENTION_DAYS);
      let before: number | undefined;
      try {
        const left = await retryUnprocessed(
          [stream],
          async () => {
            const output = await client.send(
              new UpdateCommand({
                TableName: tableName,
                Key: { pk: orderKey(stream) },
                UpdateExpression: "SET #seq = :to, expiresAt = :expiresAt",
                ConditionExpression: "attribute_not_exists(#seq) OR #seq < :to",
                ExpressionAttributeNames: { "#seq": "seq" },
                ExpressionAttributeValues: { ":to": to, ":expiresAt": expiresAt },
                ReturnValues: "UPDATED_OLD",
              }),
            );
            const old = output.Attributes?.seq;
            before = typeof old === "number" ? old : 0;
            return [];
          },
          config.retry,
        );
        if (left.length > 0) throw new DeliveredTableError("write", left.length, tableName, "stream marks");
      } catch (error: unknown) {
        // The mark is already `to` or above: another delivery moved it.
        if (error instanceof Error && error.name === "ConditionalCheckFailedException") return false;
        throw error;
      }
      return before === from;
    },
  };
}
