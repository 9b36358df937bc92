import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { Decisions } from "../ports.js";

/** Closing decisions made, as `{ pk: "decided", sk: counterKey }` items of the rules table. */
export function buildDecisions(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string },
): Decisions {
  const key = (counterKey: string) => ({ pk: "decided", sk: counterKey });
  return {
    async has(counterKey) {
      const output = await client.send(
        new GetCommand({ TableName: config.tableName, Key: key(counterKey), ConsistentRead: true }),
      );
      return output.Item !== undefined;
    },
    async record(counterKey, decidedAt) {
      await client.send(
        new PutCommand({
          TableName: config.tableName,
          Item: { ...key(counterKey), decidedAt: new Date(decidedAt).toISOString() },
        }),
      );
    },
    async forget(counterKey) {
      await client.send(new DeleteCommand({ TableName: config.tableName, Key: key(counterKey) }));
    },
  };
}
