import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { batchWrite, type EventItem, type RetryOptions } from "@pia/aws";
import type { WriteEvents } from "../ports.js";

export interface WriteEventsConfig {
  readonly tableName: string;
  readonly retry?: RetryOptions;
}

/**
 * Splits items into rounds: round k holds the k-th item of every user, so that writing the rounds
 * one after the other puts each user's events into the table, and so onto its stream, in input
 * order (DynamoDB applies the items of one BatchWriteItem in no particular order).
 */
export function roundsByUser(items: readonly EventItem[]): EventItem[][] {
  const rounds: EventItem[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const round = seen.get(item.pk) ?? 0;
    seen.set(item.pk, round + 1);
    const members = rounds[round] ?? [];
    rounds[round] = members;
    members.push(item);
  }
  return rounds;
}

/**
 * Puts event items into the events table round by round, returning those not written: the ones
 * still unprocessed after the retries, and every later item of their users (writing those would
 * put the user's events out of order; the retried batch writes them again, idempotently).
 */
export function buildWriteEvents(client: DynamoDBDocumentClient, config: WriteEventsConfig): WriteEvents {
  return async (items) => {
    const blocked = new Set<string>();
    const unprocessed: EventItem[] = [];
    for (const round of roundsByUser(items)) {
      const ready = round.filter((item) => !blocked.has(item.pk));
      unprocessed.push(...round.filter((item) => blocked.has(item.pk)));
      for (const item of await batchWrite(client, config.tableName, ready, config.retry)) {
        blocked.add(item.pk);
        unprocessed.push(item);
      }
    }
    return { unprocessed };
  };
}
