import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { RollingRule, WindowEvent } from "@pia/core";
import { windowFrontNeeded } from "@pia/core";
import { batchWrite, type RetryOptions } from "./batchWrite.js";
import {
  AFTER,
  isLiveWindowItem,
  paddedAt,
  type RollingItem,
  type WindowItem,
  windowPrefix,
} from "./rollingItem.js";

/**
 * Loads the front of a stored rolling window that a step up to the instant `until` needs
 * (`windowFrontNeeded`): every live window item at or before `through`, then the first live one
 * after it, in window order (time, then stream sequence).
 */
export type LoadWindowFront = (
  summary: RollingItem,
  compiled: RollingRule,
  until: number,
) => Promise<WindowEvent[]>;

/** Writes window items, unconditionally (a retry writes the same keys with the same content). */
export type PutWindowItems = (items: readonly WindowItem[]) => Promise<void>;

export interface RollingStore {
  readonly loadWindowFront: LoadWindowFront;
  readonly putWindowItems: PutWindowItems;
}

/**
 * The window items of the counters table (see rollingItem.ts). Reads are strongly consistent
 * queries on the user's partition, bounded below by the window's start at the summary's `w`: the
 * front up to `through` in pages, then the next live item in small pages, stopping at the first.
 */
export function buildRollingStore(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly pageSize?: number; readonly retry?: RetryOptions },
): RollingStore {
  const { tableName } = config;
  const nextPageSize = config.pageSize ?? 25;

  async function* query(
    pk: string,
    from: string,
    to: string,
    limit: number | undefined,
  ): AsyncGenerator<WindowItem[]> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const output = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: { ":pk": pk, ":from": from, ":to": to },
          ConsistentRead: true,
          ...(limit === undefined ? {} : { Limit: limit }),
          ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
        }),
      );
      yield (output.Items ?? []) as WindowItem[];
      exclusiveStartKey = output.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
  }

  const toEvent = (item: WindowItem): WindowEvent => ({ at: item.at, metric: item.metric });

  return {
    async loadWindowFront(summary, compiled, until) {
      // An empty window carries nothing.
      if (summary.count === 0) return [];
      // Nothing expires by `until` (the first event's expiry, dueAt, is later): the step needs only
      // that first event's time, which the summary knows. Its metric matters only when it leaves the
      // window, which this step cannot see; so the common step (a user's next events, nothing
      // expiring) reads no window item at all.
      if (summary.dueAt !== undefined && summary.dueAt > until) {
        return [{ at: summary.dueAt - compiled.length, metric: undefined }];
      }
      const { through } = windowFrontNeeded(compiled, until);
      const prefix = windowPrefix(summary.sk, summary.born);
      // Items at or before w - L have expired (or came too late): never read.
      const start = summary.w - compiled.length + 1;
      const events: WindowEvent[] = [];
      if (through >= start) {
        for await (const page of query(
          summary.pk,
          `${prefix}${paddedAt(start)}`,
          `${prefix}${paddedAt(through)}${AFTER}`,
          config.pageSize,
        )) {
          for (const item of page) if (isLiveWindowItem(summary, compiled, item)) events.push(toEvent(item));
        }
      }
      for await (const page of query(
        summary.pk,
        `${prefix}${paddedAt(Math.max(start, through + 1))}`,
        `${prefix}${AFTER}`,
        nextPageSize,
      )) {
        const next = page.find((item) => isLiveWindowItem(summary, compiled, item));
        if (next !== undefined) {
          events.push(toEvent(next));
          break;
        }
      }
      return events;
    },

    async putWindowItems(items) {
      if (items.length === 0) return;
      const left = await batchWrite(client, tableName, items, config.retry);
      if (left.length > 0) {
        throw new Error(`counters: ${left.length} window items still unprocessed after the retries`);
      }
    },
  };
}
