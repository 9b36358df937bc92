import { BatchWriteCommand, type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";

type Item = Record<string, unknown> & { pk: string; sk: string };

/**
 * An in-memory table keyed by (pk, sk) that answers the two requests the rolling store sends:
 * BatchWriteItem puts, and a Query `pk = :pk AND sk BETWEEN :from AND :to` in sort-key order,
 * honouring `Limit` and `ExclusiveStartKey` as DynamoDB does. It records what each query read, so
 * tests can bound the work. Anything else throws.
 */
export function memoryWindowTable() {
  const items = new Map<string, Item>();
  const keyOf = (pk: string, sk: string) => `${pk}\u0000${sk}`;
  const queries: { from: string; to: string; read: number }[] = [];
  const client = {
    async send(command: unknown): Promise<unknown> {
      if (command instanceof BatchWriteCommand) {
        for (const requests of Object.values(command.input.RequestItems ?? {})) {
          if (requests.length > 25) throw new Error("BatchWriteItem: over 25 requests");
          for (const request of requests) {
            const item = request.PutRequest?.Item as Item | undefined;
            if (item === undefined) throw new Error("memoryWindowTable: puts only");
            items.set(keyOf(item.pk, item.sk), structuredClone(item));
          }
        }
        return { UnprocessedItems: {} };
      }
      if (command instanceof QueryCommand) {
        const input = command.input;
        if (input.KeyConditionExpression !== "pk = :pk AND sk BETWEEN :from AND :to") {
          throw new Error(`memoryWindowTable: unsupported query ${input.KeyConditionExpression}`);
        }
        const values = input.ExpressionAttributeValues as { ":pk": string; ":from": string; ":to": string };
        const start = input.ExclusiveStartKey as Item | undefined;
        const matching = [...items.values()]
          .filter(
            (item) =>
              item.pk === values[":pk"] &&
              item.sk >= values[":from"] &&
              item.sk <= values[":to"] &&
              (start === undefined || item.sk > start.sk),
          )
          .sort((a, b) => (a.sk < b.sk ? -1 : a.sk > b.sk ? 1 : 0));
        const page = input.Limit === undefined ? matching : matching.slice(0, input.Limit);
        queries.push({ from: values[":from"], to: values[":to"], read: page.length });
        const last = page[page.length - 1];
        return {
          Items: page.map((item) => structuredClone(item)),
          ...(input.Limit !== undefined && matching.length > input.Limit && last !== undefined
            ? { LastEvaluatedKey: { pk: last.pk, sk: last.sk } }
            : {}),
        };
      }
      throw new Error("memoryWindowTable: only BatchWriteItem and Query");
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, items, queries };
}
