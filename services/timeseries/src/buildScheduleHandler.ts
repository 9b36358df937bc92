import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import { buildClearPending, buildRulesTable, buildSendMessages, emitCounts } from "@pia/aws";
import type { ScheduledEvent } from "aws-lambda";
import { buildCounterStore } from "./adapters/buildCounterStore.js";
import { makeCleanupRemovedRules } from "./cleanupRemovedRules.js";
import type { TimeseriesConfig } from "./config.js";
import { type ClosingCounts, makeDecideClosingRules } from "./decideClosingRules.js";

export interface ScheduleHandlerDeps {
  readonly config: TimeseriesConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  readonly onCounts?: (counts: {
    closing: ClosingCounts;
    cleanup: { counterKeysRemoved: number; countersDeleted: number };
  }) => void;
}

/** The schedule's time is the clock: a run decides what had closed at its scheduled instant. */
function clockOf(event: ScheduledEvent): number {
  const scheduled = Date.parse(event.time);
  return Number.isNaN(scheduled) ? Date.now() : scheduled;
}

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildScheduleHandler(deps: ScheduleHandlerDeps) {
  const { config, dynamodb, sqs, logger } = deps;
  const rulesTable = buildRulesTable(dynamodb, config.rulesTable);
  const counters = buildCounterStore(dynamodb, { tableName: config.countersTable });
  const { decisions } = rulesTable;
  // Each run reads the rules afresh: it runs rarely, and a rule pushed a minute ago must count.
  const loadRules = () => rulesTable.list();
  const decideClosingRules = makeDecideClosingRules({
    loadRules,
    ...counters,
    sendMessages: buildSendMessages(sqs, { queueUrl: config.notificationsQueueUrl }),
    clearPending: buildClearPending(dynamodb, { tableName: config.countersTable }),
    decisions,
    clock: Date.now,
    log: logger,
  });
  const cleanupRemovedRules = makeCleanupRemovedRules({
    loadRules,
    registry: { list: () => rulesTable.listCounterKeys(), forget: (key) => rulesTable.forgetCounterKey(key) },
    ...counters,
    decisions,
    log: logger,
  });
  const { metrics } = deps;
  const handler = middy<ScheduledEvent, void>()
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event, context) => {
      // The run's claims on rules last until Lambda stops it at the latest.
      const run = { id: randomUUID(), deadline: Date.now() + context.getRemainingTimeInMillis() };
      const closing = await decideClosingRules(clockOf(event), run);
      const cleanup = await cleanupRemovedRules();
      logger.info("scheduled run done", { closing, cleanup });
      if (metrics !== undefined) {
        emitCounts(metrics, {
          RulesDecided: closing.rulesDecided,
          NotificationsDecided: closing.notifications,
          CountersDeleted: cleanup.countersDeleted,
        });
      }
      deps.onCounts?.({ closing, cleanup });
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
