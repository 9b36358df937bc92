import { type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

/** The sinks this build knows, for `SINK`. */
export const SINK_NAMES = ["file"] as const;
export type SinkName = (typeof SINK_NAMES)[number];

/** The chosen sink and its settings; one member per sink. */
export type SinkConfig = { readonly name: "file"; readonly path: string };

export interface NotifierConfig {
  readonly sink: SinkConfig;
  readonly deliveredTable: string;
  /** Days a delivered notification id is remembered. */
  readonly deliveredRetentionDays: number;
  readonly deadLetterQueueUrl: string;
}

/** At most a century: a larger value is a typo, and the TTL must stay a plausible epoch second. */
const MAX_RETENTION_DAYS = 36_500;

function isSinkName(name: string): name is SinkName {
  return (SINK_NAMES as readonly string[]).includes(name);
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): NotifierConfig {
  const read = readEnv(env);
  const name = read.optional("SINK") ?? "file";
  let sink: SinkConfig = { name: "file", path: "" };
  if (!isSinkName(name)) {
    read.problem(
      "SINK",
      `is "${name}": set it to one of ${SINK_NAMES.join(", ")}, or leave it unset for file`,
    );
  } else {
    sink = { name, path: read.required("FILE_SINK_PATH", "NDJSON file the file sink appends to") };
  }
  const config: NotifierConfig = {
    sink,
    deliveredTable: read.required("DELIVERED_TABLE", "name of the delivered table (TABLES.delivered)"),
    deliveredRetentionDays: read.wholeNumber("DELIVERED_RETENTION_DAYS", 14, 1, MAX_RETENTION_DAYS, "days"),
    deadLetterQueueUrl: read.required(
      "DEAD_LETTER_QUEUE_URL",
      "URL of the notifications queue's dead-letter queue",
    ),
  };
  read.done("notifier");
  return config;
}
