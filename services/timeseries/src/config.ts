import { type Env, readEnv } from "@pia/aws";

export interface TimeseriesConfig {
  readonly countersTable: string;
  readonly rulesTable: string;
  readonly notificationsQueueUrl: string;
}

export function loadConfig(env: Env): TimeseriesConfig {
  const read = readEnv(env);
  const config: TimeseriesConfig = {
    countersTable: read.required("COUNTERS_TABLE", "name of the counters table (TABLES.counters)"),
    rulesTable: read.required("RULES_TABLE", "name of the rules table (TABLES.rules)"),
    notificationsQueueUrl: read.required("NOTIFICATIONS_QUEUE_URL", "URL of the notifications queue"),
  };
  read.done("timeseries");
  return config;
}
