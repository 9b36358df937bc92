import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildIngestHandler } from "../buildIngestHandler.js";
import { loadConfig } from "../config.js";

// Cold start: a bad environment fails here, with a ConfigError naming the variables.
export const handler = buildIngestHandler({
  config: loadConfig(process.env),
  dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
  logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "pia-ingest" }),
  metrics: new Metrics({ namespace: "pia", serviceName: "pia-ingest" }),
});
