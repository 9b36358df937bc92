import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { SSMClient } from "@aws-sdk/client-ssm";
import { buildPutRecords } from "../adapters/buildPutRecords.js";
import { buildWriteKeySource } from "../adapters/buildWriteKeySource.js";
import { buildCollectHandler } from "../buildCollectHandler.js";
import { loadConfig } from "../config.js";

// Cold start: a bad environment fails here, with a ConfigError naming the variables.
const config = loadConfig(process.env);

export const handler = buildCollectHandler({
  readWriteKeys: buildWriteKeySource(new SSMClient({}), {
    parameterName: config.writeKeyParameter,
    ttlMs: config.writeKeyTtlMs,
  }),
  putRecords: buildPutRecords(new KinesisClient({}), { streamArn: config.streamArn }),
  putBudgetMs: config.putBudgetMs,
  logger: new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "pia-collect" }),
  metrics: new Metrics({ namespace: "pia", serviceName: "pia-collect" }),
});
