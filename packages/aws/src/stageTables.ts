import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { PiaEvent } from "@pia/core";
import { type EventItem, fromEventItem, userKey } from "./eventItem.js";

/** The tables of a deployed stage (the services name them `pia-<stage>-<table>`). */
export interface StageTableNames {
  readonly rules: string;
  readonly events: string;
  readonly counters: string;
}

/** A user's stored events, read by query (never a scan), up to a stated limit. */
export interface UserEvents {
  readonly events: PiaEvent[];
  /** Items read that are not events (a foreign writer): counted, not used. */
  readonly unreadable: number;
  /** True when the limit stopped the read: older or later events may be missing. */
  readonly truncated: boolean;
}

/**
 * What `pia explain --stage` reads: one user's events from the events table (a query on the user's
 * partition, page by page, at most `maxEvents` items), and the pipeline's stored state of one rule
 * for that user (the counters table item at the counter's key, as stored).
 */
export interface StageReader {
  userEvents(appId: string, userId: string, maxEvents: number): Promise<UserEvents>;
  storedCounter(
    appId: string,
    userId: string,
    counterKey: string,
  ): Promise<Record<string, unknown> | undefined>;
}

export function buildStageReader(client: DynamoDBDocumentClient, tables: StageTableNames): StageReader {
  return {
    async userEvents(appId, userId, maxEvents) {
      const events: PiaEvent[] = [];
      let unreadable = 0;
      let read = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: tables.events,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": userKey(appId, userId) },
            Limit: Math.min(1000, maxEvents - read),
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        );
        for (const item of page.Items ?? []) {
          read++;
          try {
            events.push(fromEventItem(item as unknown as EventItem));
          } catch {
            unreadable++;
          }
        }
        start = page.LastEvaluatedKey;
      } while (start !== undefined && read < maxEvents);
      return { events, unreadable, truncated: start !== undefined };
    },

    async storedCounter(appId, userId, counterKey) {
      const output = await client.send(
        new GetCommand({
          TableName: tables.counters,
          Key: { pk: userKey(appId, userId), sk: counterKey },
          ConsistentRead: true,
        }),
      );
      return output.Item;
    },
  };
}

/** A stage reader over a new DynamoDB client with the default credential chain (for the CLI). */
export function openStageReader(
  target: { readonly region: string; readonly endpoint?: string },
  tables: StageTableNames,
): StageReader {
  const client = new DynamoDBClient({
    region: target.region,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
  });
  return buildStageReader(DynamoDBDocumentClient.from(client), tables);
}
