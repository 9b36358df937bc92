import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { WriteCounters } from "../ports.js";

/** TransactWriteItems' limit of actions per call. */
const TRANSACTION_LIMIT = 100;

/**
 * Writes counters in transactions of up to 100 conditional puts: each only if its `rev` is still
 * the one read (or it still does not exist). A cancelled transaction writes nothing, so every key
 * of it is returned as a conflict, to be re-read and redone.
 */
export function buildWriteCounters(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string },
): WriteCounters {
  return async (writes) => {
    const conflicts: { pk: string; sk: string }[] = [];
    for (let start = 0; start < writes.length; start += TRANSACTION_LIMIT) {
      const chunk = writes.slice(start, start + TRANSACTION_LIMIT);
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: chunk.map(({ item: { pending, ...item }, expectedRev }) => ({
              Put: {
                TableName: config.tableName,
                // An empty list is left out rather than stored: most counters have nothing pending.
                Item: pending === undefined || pending.length === 0 ? item : { ...item, pending },
                ...(expectedRev === undefined
                  ? { ConditionExpression: "attribute_not_exists(pk)" }
                  : {
                      ConditionExpression: "rev = :rev",
                      ExpressionAttributeValues: { ":rev": expectedRev },
                    }),
              },
            })),
          }),
        );
      } catch (error: unknown) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        conflicts.push(...chunk.map(({ item }) => ({ pk: item.pk, sk: item.sk })));
      }
    }
    return { conflicts };
  };
}
