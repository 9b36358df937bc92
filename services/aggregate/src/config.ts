import { DEFAULTS, type Env, readEnv } from "@pia/aws";

export interface AggregateConfig {
  readonly countersTable: string;
  readonly rulesTable: string;
  /** The events table, read by query when a backfilled rule merges a user's history. */
  readonly eventsTable: string;
  readonly notificationsQueueUrl: string;
  /** How long rules are cached between reads of the rules table. */
  readonly rulesCacheSeconds: number;
}

export function loadConfig(env: Env): AggregateConfig {
  const read = readEnv(env);
  const config: AggregateConfig = {
    countersTable: read.required("COUNTERS_TABLE", "name of the counters table (TABLES.counters)"),
    rulesTable: read.required("RULES_TABLE", "name of the rules table (TABLES.rules)"),
    eventsTable: read.required("EVENTS_TABLE", "name of the events table (TABLES.events)"),
    notificationsQueueUrl: read.required("NOTIFICATIONS_QUEUE_URL", "URL of the notifications queue"),
    rulesCacheSeconds: read.wholeNumber(
      "RULES_CACHE_SECONDS",
      DEFAULTS.aggregate.rulesCacheSeconds,
      0,
      3600,
      "seconds",
    ),
  };
  read.done("aggregate");
  return config;
}
