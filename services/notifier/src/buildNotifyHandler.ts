import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import { emitCounts, emitCountsBy, QUEUES } from "@pia/aws";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { buildDeadLetter } from "./adapters/buildDeadLetter.js";
import { buildDelivered } from "./adapters/buildDelivered.js";
import type { NotifierConfig } from "./config.js";
import { makeNotifyMessages, type NotifyCounts, type NotifyResult } from "./notifyMessages.js";
import type { Sink } from "./ports.js";
import { buildSink } from "./sinks/buildSink.js";

export interface NotifyHandlerDeps {
  readonly config: NotifierConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  /** Replaces the configured sink (fault-injection tests wrap the real one). */
  readonly sink?: Sink;
  readonly now?: () => number;
  /** Sees each batch's counts (the local runner sums them for its summary). */
  readonly onCounts?: (counts: NotifyCounts) => void;
}

function publishMetrics(metrics: Metrics, { counts, deliveredByRule, failuresBySink }: NotifyResult): void {
  emitCounts(metrics, {
    NotificationsDelivered: counts.delivered,
    NotificationsDuplicate: counts.duplicate,
    NotificationsRetried: counts.retry,
    // Rolling windows' order: older than what the sink has; waiting for a predecessor; delivered
    // over a missing predecessor on the last receive.
    NotificationsSuperseded: counts.superseded,
    NotificationsHeld: counts.held,
    NotificationsGapDelivered: counts.gapDelivered,
    DeadLettered: counts.permanent + counts.exhausted + counts.invalid,
  });
  emitCountsBy(metrics, "NotificationsDelivered", "ruleId", deliveredByRule);
  emitCountsBy(metrics, "SinkFailures", "sink", failuresBySink);
}

/**
 * Time an invocation keeps for itself after the sinks: recording delivered ids (BatchWriteItem,
 * with its retries), sending dead letters and answering. The sinks must be done by then, or the
 * whole batch would time out and come back, delivered notifications included.
 */
export const FINISH_RESERVE_MS = 2_000;

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildNotifyHandler(deps: NotifyHandlerDeps) {
  const { config, dynamodb, sqs, logger } = deps;
  const now = deps.now ?? Date.now;
  const notifyMessages = makeNotifyMessages({
    sink: deps.sink ?? buildSink(config),
    delivered: buildDelivered(dynamodb, {
      tableName: config.deliveredTable,
      retentionDays: config.deliveredRetentionDays,
      now,
    }),
    deadLetter: buildDeadLetter(sqs, { queueUrl: config.deadLetterQueueUrl }),
    log: logger,
    maxReceives: QUEUES.notifications.maxReceiveCount,
  });
  const { metrics } = deps;
  const handler = middy<SQSEvent, SQSBatchResponse>()
    // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT: the bodies carry user ids.
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event, context) => {
      const deadline = now() + context.getRemainingTimeInMillis() - FINISH_RESERVE_MS;
      const result = await notifyMessages(
        event.Records.map(({ messageId, body, attributes }) => ({
          messageId,
          body,
          receiveCount: Number(attributes?.ApproximateReceiveCount ?? 1),
        })),
        { deadline },
      );
      const { batchItemFailures, counts } = result;
      logger.info("batch notified", { sink: config.sink.name, counts });
      if (metrics !== undefined) publishMetrics(metrics, result);
      deps.onCounts?.(counts);
      return { batchItemFailures };
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
