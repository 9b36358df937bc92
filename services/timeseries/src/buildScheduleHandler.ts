import { randomUUID } from "node:crypto";
import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import middy from "@middy/core";
import {
  buildClearPending,
  buildReadHistory,
  buildRollingStore,
  buildRulesTable,
  buildSendMessages,
  DEFAULTS,
  emitCounts,
} from "@pia/aws";
import type { ScheduledEvent } from "aws-lambda";
import { buildBackfillStore } from "./adapters/buildBackfillStore.js";
import { buildCounterStore } from "./adapters/buildCounterStore.js";
import { makeCleanupRemovedRules } from "./cleanupRemovedRules.js";
import type { TimeseriesConfig } from "./config.js";
import { type ClosingCounts, makeDecideClosingRules } from "./decideClosingRules.js";
import { makeDecideRollingExpiries, type RollingCounts } from "./decideRollingExpiries.js";
import { type BackfillCounts, makeRunBackfills } from "./runBackfills.js";

/** Time a run keeps for itself after its backfill work (the last user's merge, the log), at most. */
const BACKFILL_MARGIN_MS = 60_000;

export interface ScheduleHandlerDeps {
  readonly config: TimeseriesConfig;
  readonly dynamodb: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly logger: Logger;
  /**
   * The wall clock (epoch ms) of backfills, which compare with ingest's arrival stamps, and of
   * their deadline; tests pass their own. Default `Date.now`.
   */
  readonly clock?: () => number;
  /** Index pages a run's backfills read at most (default: as many as its time allows). */
  readonly backfillPagesPerRun?: number;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  readonly onCounts?: (counts: {
    /** Absent on a run of the rolling job alone. */
    closing?: ClosingCounts;
    cleanup?: { counterKeysRemoved: number; countersDeleted: number };
    rolling: RollingCounts;
    backfill: BackfillCounts;
  }) => void;
}

/**
 * What invokes the function: the main schedule's event (closing rules, cleanup, then rolling
 * expiries), or the rolling schedule's (`{"job":"rolling","time":...}`, an input transformer on
 * its EventBridge rule), which runs the rolling job alone, every few minutes.
 */
export type ScheduleEvent = ScheduledEvent | { readonly job: "rolling"; readonly time: string };

/** The schedule's time is the clock: a run decides what had closed at its scheduled instant. */
function clockOf(event: ScheduleEvent): number {
  const scheduled = Date.parse(event.time);
  return Number.isNaN(scheduled) ? Date.now() : scheduled;
}

function isRollingJob(event: ScheduleEvent): boolean {
  return "job" in event && event.job === "rolling";
}

/** The Lambda handler, wired to the given clients (Lambda: the default ones; `pia local`: its own). */
export function buildScheduleHandler(deps: ScheduleHandlerDeps) {
  const { config, dynamodb, sqs, logger } = deps;
  const wallClock = deps.clock ?? Date.now;
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
    loadBackfills: () => rulesTable.backfills.list(),
    clock: Date.now,
    log: logger,
  });
  const cleanupRemovedRules = makeCleanupRemovedRules({
    loadRules,
    registry: { list: () => rulesTable.listCounterKeys(), forget: (key) => rulesTable.forgetCounterKey(key) },
    ...counters,
    decisions,
    backfills: rulesTable.backfills,
    log: logger,
  });
  const rollingStore = buildRollingStore(dynamodb, { tableName: config.countersTable });
  const decideRollingExpiries = makeDecideRollingExpiries({
    loadRules,
    dueStates: counters.dueStates,
    readCounter: counters.readCounter,
    loadWindowFront: rollingStore.loadWindowFront,
    writeRolling: counters.writeRolling,
    sendMessages: buildSendMessages(sqs, { queueUrl: config.notificationsQueueUrl }),
    clearPending: buildClearPending(dynamodb, { tableName: config.countersTable }),
    dueShards: DEFAULTS.counters.dueShards,
    log: logger,
  });
  const backfillStore = buildBackfillStore(dynamodb, {
    eventsTable: config.eventsTable,
    countersTable: config.countersTable,
  });
  const runBackfills = makeRunBackfills({
    loadRules,
    jobs: rulesTable.backfills,
    ...backfillStore,
    readCounter: counters.readCounter,
    readHistory: buildReadHistory(dynamodb, { tableName: config.eventsTable }),
    sendMessages: buildSendMessages(sqs, { queueUrl: config.notificationsQueueUrl }),
    clearPending: buildClearPending(dynamodb, { tableName: config.countersTable }),
    clock: wallClock,
    settings: {
      liveDelayMs: config.backfillLiveDelaySeconds * 1000,
      settleMs: config.backfillSettleSeconds * 1000,
      sweepMarginMs: DEFAULTS.timeseries.backfillSweepMarginSeconds * 1000,
      eventRetentionDays: DEFAULTS.ingest.eventRetentionDays,
      ...(deps.backfillPagesPerRun === undefined ? {} : { maxPagesPerRun: deps.backfillPagesPerRun }),
    },
    log: logger,
  });
  /**
   * Backfills run last, in what is left of the run: the rest of Lambda's time less a margin, and
   * on the rolling schedule's runs no more than its interval, so that those runs seldom overlap
   * (they may: every backfill save is conditional, and a run that loses one leaves the job).
   */
  const backfillDeadline = (remainingMs: number, rollingRun: boolean) => {
    // A short invocation (a test's, a local one's) keeps a quarter of its time instead.
    const budget = remainingMs - Math.min(BACKFILL_MARGIN_MS, remainingMs / 4);
    const cap = rollingRun ? DEFAULTS.timeseries.rollingMinutes * 60_000 : budget;
    return wallClock() + Math.min(budget, cap);
  };
  const { metrics } = deps;
  const handler = middy<ScheduleEvent, void>()
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event, context) => {
      const now = clockOf(event);
      if (isRollingJob(event)) {
        const rolling = await decideRollingExpiries(now);
        const backfill = await runBackfills(backfillDeadline(context.getRemainingTimeInMillis(), true));
        logger.info("rolling run done", { rolling, backfill });
        if (metrics !== undefined) {
          emitCounts(metrics, {
            NotificationsDecided: rolling.notifications + backfill.notifications,
            UsersBackfilled: backfill.usersMerged,
          });
        }
        deps.onCounts?.({ rolling, backfill });
        return;
      }
      // The run's claims on rules last until Lambda stops it at the latest.
      const run = { id: randomUUID(), deadline: Date.now() + context.getRemainingTimeInMillis() };
      const closing = await decideClosingRules(now, run);
      const cleanup = await cleanupRemovedRules();
      // Expiries too: a stage whose rolling schedule is slower still decides them hourly.
      const rolling = await decideRollingExpiries(now);
      const backfill = await runBackfills(backfillDeadline(context.getRemainingTimeInMillis(), false));
      logger.info("scheduled run done", { closing, cleanup, rolling, backfill });
      if (metrics !== undefined) {
        emitCounts(metrics, {
          RulesDecided: closing.rulesDecided,
          NotificationsDecided: closing.notifications + rolling.notifications + backfill.notifications,
          CountersDeleted: cleanup.countersDeleted,
          UsersBackfilled: backfill.usersMerged,
        });
      }
      deps.onCounts?.({ closing, cleanup, rolling, backfill });
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
