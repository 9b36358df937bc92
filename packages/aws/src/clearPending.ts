import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, TransactWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";

/** TransactWriteItems' limit of actions per call. */
const TRANSACTION_LIMIT = 100;

interface Cleared {
  readonly key: { readonly pk: string; readonly sk: string };
  readonly rev: number;
}

/**
 * Removes the pending messages of counters once they are sent, only where the counter is still at
 * the `rev` that held them: a counter changed since keeps its list (re-sent later, dropped by id).
 * Up to 100 counters per transaction (one request instead of a hundred); when one of them has
 * changed, the transaction is cancelled and that chunk is cleared counter by counter.
 */
export function buildClearPending(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string },
): (counters: readonly Cleared[]) => Promise<void> {
  const update = ({ key, rev }: Cleared) => ({
    TableName: config.tableName,
    Key: { pk: key.pk, sk: key.sk },
    UpdateExpression: "REMOVE pending SET rev = rev + :one",
    ConditionExpression: "rev = :rev",
    ExpressionAttributeValues: { ":rev": rev, ":one": 1 },
  });
  return async (counters) => {
    for (let start = 0; start < counters.length; start += TRANSACTION_LIMIT) {
      const chunk = counters.slice(start, start + TRANSACTION_LIMIT);
      try {
        await client.send(
          new TransactWriteCommand({ TransactItems: chunk.map((counter) => ({ Update: update(counter) })) }),
        );
      } catch (error: unknown) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        for (const counter of chunk) {
          try {
            await client.send(new UpdateCommand(update(counter)));
          } catch (inner: unknown) {
            if (!(inner instanceof ConditionalCheckFailedException)) throw inner;
          }
        }
      }
    }
  };
}
