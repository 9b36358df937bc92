import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildNotifyHandler } from "../buildNotifyHandler.js";
import { loadConfig } from "../config.js";

// Cold start: a bad environment fails here, with a ConfigError naming the variables.
export const handler = buildNotifyHandler({
  config: loadConfig(process.env),
  dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  sqs: new SQSClient({}),
  logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "pia-notifier" }),
  metrics: new Metrics({ namespace: "pia", serviceName: "pia-notifier" }),
});
