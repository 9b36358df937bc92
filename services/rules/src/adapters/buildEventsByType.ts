import { type DynamoDBDocumentClient, QueryCommand, type QueryCommandOutput } from "@aws-sdk/lib-dynamodb";
import { fromEventItem, typeDayKey } from "@pia/aws";
import type { PiaEvent } from "@pia/core";
import { PreviewUnavailableError } from "../errors.js";
import type { ReadEventsByTypeDay } from "../ports.js";

/** The events table's sparse index of events by type and UTC day (`TABLES.events`). */
export const BY_TYPE_DAY_INDEX = "byTypeDay";

export interface EventsByTypeConfig {
  readonly tableName: string;
  /** Items per Query page at most (`Limit`); default: DynamoDB's 1 MB pages. */
  readonly pageSize?: number;
}

/**
 * DynamoDB's answer when the index (or the table) is not there: a table deployed before the
 * index, or EVENTS_TABLE naming another table. Retrying cannot fix that.
 */
function isMissingIndex(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "ResourceNotFoundException") return true;
  return error.name === "ValidationException" && /specified index/i.test(error.message);
}

/**
 * Reads one event type's events of one UTC day from the `byTypeDay` index: a Query on its key,
 * page after page (never a Scan). Only items ingest wrote with `typeDay` are in the index.
 */
export function buildEventsByType(
  client: DynamoDBDocumentClient,
  config: EventsByTypeConfig,
): ReadEventsByTypeDay {
  return async function* readEventsByTypeDay(eventType, day): AsyncGenerator<PiaEvent> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      let page: QueryCommandOutput;
      try {
        page = await client.send(
          new QueryCommand({
            TableName: config.tableName,
            IndexName: BY_TYPE_DAY_INDEX,
            KeyConditionExpression: "typeDay = :k",
            ExpressionAttributeValues: { ":k": typeDayKey(eventType, day) },
            ...(config.pageSize === undefined ? {} : { Limit: config.pageSize }),
            ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
          }),
        );
      } catch (error: unknown) {
        if (isMissingIndex(error)) throw new PreviewUnavailableError({ cause: error });
        throw error;
      }
      for (const item of page.Items ?? []) yield fromEventItem(item);
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
  };
}
