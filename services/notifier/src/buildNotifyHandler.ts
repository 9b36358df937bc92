import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import { QUEUES } from "@pia/aws";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { buildDeadLetter } from "./adapters/buildDeadLetter.js";
import { buildDelivered } from "./adapters/buildDelivered.js";
import type { NotifierConfig } from "./config.js";
import { makeNotifyMessages, type NotifyCounts } from "./notifyMessages.js";
import type { Sink } from "./ports.js";
import { buildSink } from "./sinks/buildSink.js";

export interface NotifyHandlerDeps {
  readonly config: NotifierConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  /** Replaces the configured sink (fault-injection tests wrap the real one). */
  readonly sink?: Sink;
  readonly now?: () => number;
  /** Sees each batch's counts (the local runner sums them for its summary). */
  readonly onCounts?: (counts: NotifyCounts) => void;
}

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildNotifyHandler(deps: NotifyHandlerDeps) {
  const { config, dynamodb, sqs, logger } = deps;
  const notifyMessages = makeNotifyMessages({
    sink: deps.sink ?? buildSink(config),
    delivered: buildDelivered(dynamodb, {
      tableName: config.deliveredTable,
      retentionDays: config.deliveredRetentionDays,
      now: deps.now ?? Date.now,
    }),
    deadLetter: buildDeadLetter(sqs, { queueUrl: config.deadLetterQueueUrl }),
    log: logger,
    maxReceives: QUEUES.notifications.maxReceiveCount,
  });
  return (
    middy<SQSEvent, SQSBatchResponse>()
      // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT: the bodies carry user ids.
      .use(injectLambdaContext(logger, { logEvent: false }))
      .handler(async (event) => {
        const { batchItemFailures, counts } = await notifyMessages(
          event.Records.map(({ messageId, body, attributes }) => ({
            messageId,
            body,
            receiveCount: Number(attributes?.ApproximateReceiveCount ?? 1),
          })),
        );
        logger.info("batch notified", { sink: config.sink.name, counts });
        deps.onCounts?.(counts);
        return { batchItemFailures };
      })
  );
}
