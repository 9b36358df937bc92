import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { type CounterItem, chunk, type RollingItem, retryUnprocessed } from "@pia/aws";
import type {
  CountersOfRule,
  DeleteCounters,
  DueStates,
  FireCounter,
  ReadCounter,
  WriteRolling,
} from "../ports.js";

/** The counters table as the scheduled job uses it: by rule through the `byRule` index, by key. */
export function buildCounterStore(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly pageSize?: number },
): {
  countersOfRule: CountersOfRule;
  readCounter: ReadCounter;
  fireCounter: FireCounter;
  deleteCounters: DeleteCounters;
  dueStates: DueStates;
  writeRolling: WriteRolling;
} {
  const { tableName } = config;
  return {
    async *countersOfRule(counterKey) {
      let exclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const output = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: "byRule",
            KeyConditionExpression: "counterKey = :key",
            ExpressionAttributeValues: { ":key": counterKey },
            ...(config.pageSize === undefined ? {} : { Limit: config.pageSize }),
            ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
          }),
        );
        yield (output.Items ?? []) as CounterItem[];
        exclusiveStartKey = output.LastEvaluatedKey;
      } while (exclusiveStartKey !== undefined);
    },

    async readCounter({ pk, sk }) {
      const output = await client.send(
        new GetCommand({ TableName: tableName, Key: { pk, sk }, ConsistentRead: true }),
      );
      return output.Item as CounterItem | RollingItem | undefined;
    },

    async *dueStates(partition, now) {
      let exclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const output = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: "byDue",
            KeyConditionExpression: "dueShard = :shard AND dueAt <= :now",
            ExpressionAttributeValues: { ":shard": partition, ":now": now },
            ...(config.pageSize === undefined ? {} : { Limit: config.pageSize }),
            ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
          }),
        );
        yield (output.Items ?? []).map((item) => ({ pk: item.pk as string, sk: item.sk as string }));
        exclusiveStartKey = output.LastEvaluatedKey;
      } while (exclusiveStartKey !== undefined);
    },

    async writeRolling({ pending, ...item }, expectedRev) {
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            // An empty list is left out rather than stored, as aggregate does.
            Item: pending === undefined || pending.length === 0 ? item : { ...item, pending },
            ConditionExpression: "rev = :rev",
            ExpressionAttributeValues: { ":rev": expectedRev },
          }),
        );
        return true;
      } catch (error: unknown) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },

    async fireCounter(item, body) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: item.pk, sk: item.sk },
            UpdateExpression:
              "SET fired = :true, pending = list_append(if_not_exists(pending, :empty), :body), rev = rev + :one",
            ConditionExpression: "rev = :rev AND fired = :false",
            ExpressionAttributeValues: {
              ":true": true,
              ":false": false,
              ":empty": [],
              ":body": [body],
              ":one": 1,
              ":rev": item.rev,
            },
          }),
        );
        return true;
      } catch (error: unknown) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },

    async deleteCounters(keys) {
      for (const keysChunk of chunk(keys, 25)) {
        const left = await retryUnprocessed(keysChunk, async (pending) => {
          const output = await client.send(
            new BatchWriteCommand({
              RequestItems: {
                [tableName]: pending.map(({ pk, sk }) => ({ DeleteRequest: { Key: { pk, sk } } })),
              },
            }),
          );
          return (output.UnprocessedItems?.[tableName] ?? []).map(
            (request) => request.DeleteRequest?.Key as { pk: string; sk: string },
          );
        });
        if (left.length > 0)
          throw new Error(`counters: ${left.length} deletes still unprocessed after the retries`);
      }
    },
  };
}
