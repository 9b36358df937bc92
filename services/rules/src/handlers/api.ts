import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildStageReader } from "@pia/aws";
import { buildEventsByType } from "../adapters/buildEventsByType.js";
import { buildRuleStore } from "../adapters/buildRuleStore.js";
import { buildRulesApiHandler } from "../buildRulesApiHandler.js";
import { loadConfig } from "../config.js";

// Cold start: a bad environment fails here, with a ConfigError naming the variables.
const config = loadConfig(process.env);
const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

export const handler = buildRulesApiHandler({
  config,
  store: buildRuleStore(dynamodb, { tableName: config.rulesTable }),
  ...(config.eventsTable === undefined
    ? {}
    : { readEventsByTypeDay: buildEventsByType(dynamodb, { tableName: config.eventsTable }) }),
  // Explaining a user reads the user's partition of the events table and the counters table.
  ...(config.eventsTable === undefined || config.countersTable === undefined
    ? {}
    : {
        stageReader: buildStageReader(dynamodb, {
          rules: config.rulesTable,
          events: config.eventsTable,
          counters: config.countersTable,
        }),
      }),
  logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "pia-rules" }),
});
