import { DEFAULTS, type Env, readEnv } from "@pia/aws";

export interface TimeseriesConfig {
  readonly countersTable: string;
  readonly rulesTable: string;
  /** The events table, whose `byTypeDay` index and user partitions the backfill job reads. */
  readonly eventsTable: string;
  readonly notificationsQueueUrl: string;
  /** Backfill: from setting a boundary to the boundary (longer than aggregate's rule cache). */
  readonly backfillLiveDelaySeconds: number;
  /** Backfill: from the boundary to `settledAt` (longer than ingest's Lambda timeout). */
  readonly backfillSettleSeconds: number;
}

export function loadConfig(env: Env): TimeseriesConfig {
  const read = readEnv(env);
  // Aggregate's rule cache (the same parameter its deploy uses): a boundary set sooner than it
  // expires could pass before some aggregate container knows the rule, which would then miss
  // live events that the backfill leaves to it.
  const rulesCacheSeconds = read.wholeNumber(
    "RULES_CACHE_SECONDS",
    DEFAULTS.aggregate.rulesCacheSeconds,
    0,
    3600,
    "seconds",
  );
  const liveDelayFallback = rulesCacheSeconds + DEFAULTS.timeseries.backfillLiveMarginSeconds;
  const config: TimeseriesConfig = {
    countersTable: read.required("COUNTERS_TABLE", "name of the counters table (TABLES.counters)"),
    rulesTable: read.required("RULES_TABLE", "name of the rules table (TABLES.rules)"),
    eventsTable: read.required("EVENTS_TABLE", "name of the events table (TABLES.events)"),
    notificationsQueueUrl: read.required("NOTIFICATIONS_QUEUE_URL", "URL of the notifications queue"),
    backfillLiveDelaySeconds: read.wholeNumber(
      "BACKFILL_LIVE_DELAY_SECONDS",
      liveDelayFallback,
      0,
      86_400,
      "seconds",
    ),
    backfillSettleSeconds: read.wholeNumber(
      "BACKFILL_SETTLE_SECONDS",
      DEFAULTS.timeseries.backfillSettleSeconds,
      0,
      86_400,
      "seconds",
    ),
  };
  if (config.backfillLiveDelaySeconds <= rulesCacheSeconds) {
    read.problem(
      "BACKFILL_LIVE_DELAY_SECONDS",
      `is ${config.backfillLiveDelaySeconds}: it must be more than RULES_CACHE_SECONDS (${rulesCacheSeconds}), or aggregate may miss live events of a backfilled rule; leave it unset for ${liveDelayFallback}`,
    );
  }
  read.done("timeseries");
  return config;
}
