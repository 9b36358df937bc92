import { type DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { type EventItem, mapLimited, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { WriteEvents } from "../ports.js";

/** Users whose items are written at the same time, by default. */
export const DEFAULT_WRITE_CONCURRENCY = 16;

export interface WriteEventsConfig {
  readonly tableName: string;
  /** Backoff of a throttled put: attempts per item and delays, as for batch writes. */
  readonly retry?: Omit<RetryOptions, "concurrency">;
  /** Users written at the same time (default `DEFAULT_WRITE_CONCURRENCY`); each user's items one by one. */
  readonly concurrency?: number;
}

/** What one item's write came to. */
type PutOutcome = "written" | "alreadyStored" | "unwritten";

/**
 * A server error (HTTP 5xx) that the SDK's own retries did not get past: transient, like throttling,
 * so it gets the same backoff. If the put was applied before the error, the retry finds the item
 * and reports it already stored: it is stored either way, once.
 */
function isServerError(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  return (
    error instanceof Error &&
    ((status !== undefined && status >= 500) ||
      error.name === "InternalServerError" ||
      error.name === "ServiceUnavailable")
  );
}

function isConditionalCheckFailed(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** A user's items, in input order; users in the order of their first item. */
function itemsByUser(items: readonly EventItem[]): EventItem[][] {
  const byUser = new Map<string, EventItem[]>();
  for (const item of items) {
    const own = byUser.get(item.pk) ?? [];
    byUser.set(item.pk, own);
    own.push(item);
  }
  return [...byUser.values()];
}

/**
 * Puts one item if no item has its key: the first write of an event wins and its `arrivedAt` never
 * moves; a redelivery writes nothing (and the stream carries nothing). Throttling and server errors
 * are retried with the batch writes' backoff (exponential, full jitter, `maxAttempts` puts); any
 * other error throws.
 */
async function putOnce(
  client: DynamoDBDocumentClient,
  config: WriteEventsConfig,
  item: EventItem,
): Promise<PutOutcome> {
  let outcome: PutOutcome = "unwritten";
  await retryUnprocessed(
    [item],
    async (pending) => {
      try {
        await client.send(
          new PutCommand({
            TableName: config.tableName,
            Item: { ...item },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        );
        outcome = "written";
      } catch (error: unknown) {
        if (isConditionalCheckFailed(error)) {
          outcome = "alreadyStored";
        } else if (isServerError(error)) {
          return pending;
        } else {
          // Throttling is retried by retryUnprocessed; anything else fails the batch.
          throw error;
        }
      }
      return [];
    },
    config.retry,
  );
  return outcome;
}

/**
 * Puts event items into the events table, each only if it is not stored yet (a conditional put):
 * a user's items one after another in input order, so they reach the user's stream shard in that
 * order, and different users `concurrency` at a time. Returns the items already stored (a
 * redelivery, or a producer's duplicate across batches: not rewritten) and those not written: an
 * item still throttled after its retries, and every later item of its user (writing those would
 * put the user's events out of order; the redelivered records write them then). Any error other
 * than throttling throws, after the users being written have settled.
 */
export function buildWriteEvents(client: DynamoDBDocumentClient, config: WriteEventsConfig): WriteEvents {
  const concurrency = config.concurrency ?? DEFAULT_WRITE_CONCURRENCY;
  return async (items) => {
    const outcomes = new Map<EventItem, PutOutcome>();
    await mapLimited(itemsByUser(items), concurrency, async (own) => {
      for (const item of own) {
        const outcome = await putOnce(client, config, item);
        outcomes.set(item, outcome);
        if (outcome === "unwritten") break;
      }
    });
    // Items never tried (after an unwritten one of their user) are unwritten too.
    const outcomeOf = (item: EventItem) => outcomes.get(item) ?? "unwritten";
    return {
      unprocessed: items.filter((item) => outcomeOf(item) === "unwritten"),
      alreadyStored: items.filter((item) => outcomeOf(item) === "alreadyStored"),
    };
  };
}
