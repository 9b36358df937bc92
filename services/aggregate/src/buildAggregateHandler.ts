import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import middy from "@middy/core";
import {
  buildClearPending,
  buildReadHistory,
  buildRollingStore,
  buildRulesTable,
  buildSendMessages,
  cachedRuleSet,
  emitCounts,
} from "@pia/aws";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { buildReadCounters } from "./adapters/buildReadCounters.js";
import { buildWriteCounters } from "./adapters/buildWriteCounters.js";
import { type AggregateCounts, makeAggregateRecords, type StreamRecord } from "./aggregateRecords.js";
import type { AggregateConfig } from "./config.js";

export interface AggregateHandlerDeps {
  readonly config: AggregateConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  readonly now?: () => number;
  /** Sees each batch's counts (the local runner sums them for its summary). */
  readonly onCounts?: (counts: AggregateCounts) => void;
}

function toStreamRecord(record: DynamoDBRecord): StreamRecord {
  const image = record.dynamodb?.NewImage;
  return {
    eventName: record.eventName ?? "MODIFY",
    sequenceNumber: record.dynamodb?.SequenceNumber ?? "0",
    // aws-lambda's AttributeValue and the SDK's are the same wire shape under different types.
    ...(image === undefined ? {} : { newImage: unmarshall(image as Parameters<typeof unmarshall>[0]) }),
  };
}

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildAggregateHandler(deps: AggregateHandlerDeps) {
  const { config, dynamodb, sqs, logger } = deps;
  const rollingStore = buildRollingStore(dynamodb, { tableName: config.countersTable });
  const aggregateRecords = makeAggregateRecords({
    // Rules with their backfills, loaded together (docs/rules.md section 9).
    loadRules: cachedRuleSet(buildRulesTable(dynamodb, config.rulesTable).listRuleSet, {
      ttlMs: config.rulesCacheSeconds * 1000,
      now: deps.now ?? Date.now,
    }),
    readCounters: buildReadCounters(dynamodb, { tableName: config.countersTable }),
    writeCounters: buildWriteCounters(dynamodb, { tableName: config.countersTable }),
    sendMessages: buildSendMessages(sqs, { queueUrl: config.notificationsQueueUrl }),
    clearPending: buildClearPending(dynamodb, { tableName: config.countersTable }),
    readHistory: buildReadHistory(dynamodb, { tableName: config.eventsTable }),
    loadWindowFront: rollingStore.loadWindowFront,
    putWindowItems: rollingStore.putWindowItems,
    clock: deps.now ?? Date.now,
    log: logger,
  });
  const { metrics } = deps;
  const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
    // logEvent: false: the records carry user ids.
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event) => {
      const { batchItemFailures, counts } = await aggregateRecords(event.Records.map(toStreamRecord));
      logger.info("batch aggregated", { counts });
      if (metrics !== undefined) {
        emitCounts(metrics, {
          EventsAggregated: counts.applied,
          CountersWritten: counts.countersWritten,
          NotificationsDecided: counts.notifications,
        });
      }
      deps.onCounts?.(counts);
      return { batchItemFailures };
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
