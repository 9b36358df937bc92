import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { CounterItem } from "@pia/aws";
import type { HeldCountersOfRule, UsersOfDay, WriteCounter } from "../ports.js";

/** Items per page of the backfill's queries: small enough that a page's merges fit any budget. */
export const BACKFILL_PAGE_SIZE = 200;

/**
 * What the backfill job reads and writes besides the rules table: the events table's `byTypeDay`
 * index (ALL-projected; only the owner of each item is kept) and the counters table, by the
 * `byRule` index and by conditional put.
 */
export function buildBackfillStore(
  client: DynamoDBDocumentClient,
  config: { readonly eventsTable: string; readonly countersTable: string; readonly pageSize?: number },
): { usersOfDay: UsersOfDay; heldCounters: HeldCountersOfRule; writeCounter: WriteCounter } {
  const limit = config.pageSize ?? BACKFILL_PAGE_SIZE;
  return {
    async usersOfDay(typeDay, start) {
      const output = await client.send(
        new QueryCommand({
          TableName: config.eventsTable,
          IndexName: "byTypeDay",
          KeyConditionExpression: "typeDay = :typeDay",
          ExpressionAttributeValues: { ":typeDay": typeDay },
          ProjectionExpression: "pk, appId, userId",
          Limit: limit,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      return {
        items: (output.Items ?? []).map((item) => ({
          pk: String(item.pk),
          appId: String(item.appId),
          userId: String(item.userId),
        })),
        ...(output.LastEvaluatedKey === undefined ? {} : { next: output.LastEvaluatedKey }),
      };
    },

    async heldCounters(counterKey, start) {
      const output = await client.send(
        new QueryCommand({
          TableName: config.countersTable,
          IndexName: "byRule",
          KeyConditionExpression: "counterKey = :key",
          FilterExpression: "attribute_exists(held)",
          ExpressionAttributeValues: { ":key": counterKey },
          Limit: limit,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      return {
        items: (output.Items ?? []) as CounterItem[],
        ...(output.LastEvaluatedKey === undefined ? {} : { next: output.LastEvaluatedKey }),
      };
    },

    async writeCounter({ pending, ...item }, expectedRev) {
      try {
        await client.send(
          new PutCommand({
            TableName: config.countersTable,
            // An empty list is left out rather than stored, as aggregate does.
            Item: pending === undefined || pending.length === 0 ? item : { ...item, pending },
            ...(expectedRev === undefined
              ? { ConditionExpression: "attribute_not_exists(pk)" }
              : { ConditionExpression: "rev = :rev", ExpressionAttributeValues: { ":rev": expectedRev } }),
          }),
        );
        return true;
      } catch (error: unknown) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
  };
}
