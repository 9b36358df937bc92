import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";

/** Requests and capacity units counted on the wire, as AWS would bill them. */
export interface RequestTally {
  readonly dynamodb: {
    requests: number;
    readUnits: number;
    writeUnits: number;
    byCommand: Record<string, number>;
  };
  readonly sqs: { requests: number; byCommand: Record<string, number> };
}

export function emptyTally(): RequestTally {
  return {
    dynamodb: { requests: 0, readUnits: 0, writeUnits: 0, byCommand: {} },
    sqs: { requests: 0, byCommand: {} },
  };
}

const READS = new Set([
  "GetItemCommand",
  "BatchGetItemCommand",
  "QueryCommand",
  "ScanCommand",
  "TransactGetItemsCommand",
]);
const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

interface Consumed {
  readonly CapacityUnits?: number;
}

function unitsOf(consumed: Consumed | Consumed[] | undefined): number {
  if (consumed === undefined) return 0;
  const list = Array.isArray(consumed) ? consumed : [consumed];
  return list.reduce((total, entry) => total + (entry.CapacityUnits ?? 0), 0);
}

/**
 * Counts every DynamoDB request of a client and the capacity units DynamoDB reports for it (asking
 * for `ReturnConsumedCapacity: TOTAL` on every call that supports it): measured, not estimated.
 */
export function tallyDynamoDb(client: DynamoDBClient, tally: RequestTally): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "unknown";
      const input = args.input as { ReturnConsumedCapacity?: string };
      if (READS.has(command) || WRITES.has(command)) input.ReturnConsumedCapacity = "TOTAL";
      tally.dynamodb.requests++;
      tally.dynamodb.byCommand[command] = (tally.dynamodb.byCommand[command] ?? 0) + 1;
      const result = await next(args);
      const units = unitsOf((result.output as { ConsumedCapacity?: Consumed | Consumed[] }).ConsumedCapacity);
      if (READS.has(command)) tally.dynamodb.readUnits += units;
      else tally.dynamodb.writeUnits += units;
      return result;
    },
    { step: "initialize", name: "piaTallyRequests" },
  );
}

export function tallySqs(client: SQSClient, tally: RequestTally): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "unknown";
      tally.sqs.requests++;
      tally.sqs.byCommand[command] = (tally.sqs.byCommand[command] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "piaTallyRequests" },
  );
}
