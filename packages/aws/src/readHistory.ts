import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PiaEvent } from "@pia/core";
import { type BackfillBoundary, isLive } from "./backfill.js";
import { arrivalOf, type EventItem, fromEventItem, InvalidEventItemError } from "./eventItem.js";

/** A user's history of one event type, as a backfill counts it. */
export interface UserHistory {
  /** The events of the type that arrived before the boundary (or carry no stamp), in table order. */
  readonly events: PiaEvent[];
  /** Items read (the query's filter is applied after reading, so this is what the read costs). */
  readonly read: number;
  /** Items of the type that are not events (a foreign writer): counted, never counted as events. */
  readonly unreadable: number;
}

/** Reads one user's history of one event type: a consistent query of the user's partition. */
export type ReadHistory = (pk: string, eventType: string, backfill: BackfillBoundary) => Promise<UserHistory>;

/** A user's history longer than a backfill reads (the limit keeps memory and time bounded). */
export class HistoryTooLargeError extends Error {
  override readonly name = "HistoryTooLargeError";
  constructor(readonly limit: number) {
    super(
      `a user's stored history has more than ${limit} events of the rule's type; backfill reads at most that many per user`,
    );
  }
}

/** Events of one type a backfill reads per user at most (about 200 MB of events in memory at worst). */
export const HISTORY_LIMIT = 1_000_000;

export interface ReadHistoryConfig {
  readonly tableName: string;
  /** Default `HISTORY_LIMIT`. */
  readonly maxEvents?: number;
}

/**
 * The history reader of backfill (docs/rules.md section 9), shared by aggregate and the backfill
 * job. It queries the user's partition (never a scan), strongly consistent so that every event
 * stored before the read is seen, keeping the events of `eventType` that are history to the
 * backfill: arrived before its boundary, or stored before ingest stamped arrivals.
 */
export function buildReadHistory(client: DynamoDBDocumentClient, config: ReadHistoryConfig): ReadHistory {
  const limit = config.maxEvents ?? HISTORY_LIMIT;
  return async (pk, eventType, backfill) => {
    const events: PiaEvent[] = [];
    let read = 0;
    let unreadable = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: config.tableName,
          KeyConditionExpression: "pk = :pk",
          FilterExpression: "eventType = :type",
          ExpressionAttributeValues: { ":pk": pk, ":type": eventType },
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      read += page.ScannedCount ?? page.Items?.length ?? 0;
      for (const item of page.Items ?? []) {
        try {
          if (isLive(arrivalOf(item), backfill)) continue;
          events.push(fromEventItem(item as unknown as EventItem));
        } catch (error: unknown) {
          if (!(error instanceof InvalidEventItemError)) throw error;
          unreadable++;
        }
        if (events.length > limit) throw new HistoryTooLargeError(limit);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return { events, read, unreadable };
  };
}
