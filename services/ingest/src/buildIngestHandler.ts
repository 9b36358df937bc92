import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import { emitCounts, emitCountsBy } from "@pia/aws";
import { recordReader } from "@pia/core";
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { buildWriteEvents } from "./adapters/buildWriteEvents.js";
import { buildWriteQuarantine } from "./adapters/buildWriteQuarantine.js";
import type { IngestConfig } from "./config.js";
import { type IngestCounts, type IngestRecord, makeIngestRecords } from "./ingestRecords.js";

export interface IngestHandlerDeps {
  readonly config: IngestConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  readonly now?: () => number;
  /** Sees each batch's counts (the local runner sums them for its summary). */
  readonly onCounts?: (counts: IngestCounts) => void;
}

/** Kinesis gives the arrival in epoch seconds (with a fraction); the use case takes milliseconds. */
function toIngestRecord({ kinesis }: KinesisStreamRecord): IngestRecord {
  return {
    sequenceNumber: kinesis.sequenceNumber,
    data: kinesis.data,
    approximateArrivalTimestamp: Math.round(kinesis.approximateArrivalTimestamp * 1000),
  };
}

function publishMetrics(metrics: Metrics, counts: IngestCounts): void {
  const { records, applied, duplicate, ignored, failed, skipped } = counts;
  emitCounts(metrics, {
    EventsIn: records,
    EventsApplied: applied,
    EventsDuplicate: duplicate,
    EventsIgnored: ignored,
    EventsSkipped: Object.values(skipped).reduce((sum, n) => sum + n, 0),
    EventsFailed: failed,
  });
  emitCountsBy(metrics, "EventsSkipped", "reason", Object.entries(skipped));
}

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildIngestHandler(deps: IngestHandlerDeps) {
  const { config, dynamodb, logger } = deps;
  const ingestRecords = makeIngestRecords({
    writeEvents: buildWriteEvents(dynamodb, { tableName: config.eventsTable }),
    writeQuarantine: buildWriteQuarantine(dynamodb, { tableName: config.quarantineTable }),
    now: deps.now ?? Date.now,
    log: logger,
    eventRetentionDays: config.eventRetentionDays,
    quarantineRetentionDays: config.quarantineRetentionDays,
    previewIndex: config.previewIndex === true,
    reader: recordReader({
      format: config.inputFormat ?? "auto",
      ...(config.inputMapping === undefined ? {} : { mapping: config.inputMapping }),
    }),
  });
  const { metrics } = deps;
  const handler = middy<KinesisStreamEvent, KinesisStreamBatchResponse>()
    // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT: the records carry user ids.
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event) => {
      const { batchItemFailures, counts } = await ingestRecords(event.Records.map(toIngestRecord));
      logger.info("batch ingested", { counts });
      if (metrics !== undefined) publishMetrics(metrics, counts);
      deps.onCounts?.(counts);
      return { batchItemFailures };
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
