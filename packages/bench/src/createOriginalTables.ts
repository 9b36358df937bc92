import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";

/** The original design's two tables, as its CloudFormation template declared them. */
export interface OriginalTables {
  /** `kinesis_pinpoint_aggregator`: one item per user and rule, key `useridtaskname`. */
  readonly aggregate: string;
  /** `kinesis_pinpoint_timeseries`: every event, key `eventname` + `dateuserid`, never expired. */
  readonly timeseries: string;
}

/**
 * Creates the original's tables as `${prefix}-kinesis_pinpoint_aggregator` and
 * `${prefix}-kinesis_pinpoint_timeseries` (on demand: the original's 5/5 provisioned throughput
 * would only throttle the replay; capacity units are counted the same either way).
 */
export async function createOriginalTables(
  dynamodb: DynamoDBClient,
  prefix: string,
): Promise<OriginalTables> {
  const tables = {
    aggregate: `${prefix}-kinesis_pinpoint_aggregator`,
    timeseries: `${prefix}-kinesis_pinpoint_timeseries`,
  };
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tables.aggregate,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "useridtaskname", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "useridtaskname", KeyType: "HASH" }],
    }),
  );
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tables.timeseries,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "eventname", AttributeType: "S" },
        { AttributeName: "dateuserid", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "eventname", KeyType: "HASH" },
        { AttributeName: "dateuserid", KeyType: "RANGE" },
      ],
    }),
  );
  return tables;
}
