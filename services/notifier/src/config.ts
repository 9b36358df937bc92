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

export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
}

/** The environment cannot run the service; names every variable at fault and what to set. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `notifier configuration: ${problems.map(({ variable, problem }) => `${variable} ${problem}`).join("; ")}`,
    );
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** At most a century: a larger value is a typo, and the TTL must stay a plausible epoch second. */
const MAX_RETENTION_DAYS = 36_500;

function required(env: Env, variable: string, what: string, problems: ConfigProblem[]): string {
  const value = env[variable]?.trim() ?? "";
  if (value === "") problems.push({ variable, problem: `is not set: set it to ${what}` });
  return value;
}

function days(env: Env, variable: string, fallback: number, problems: ConfigProblem[]): number {
  const text = env[variable]?.trim() ?? "";
  if (text === "") return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= MAX_RETENTION_DAYS)) {
    problems.push({
      variable,
      problem: `is "${text}": set it to a whole number of days from 1 to ${MAX_RETENTION_DAYS}, or leave it unset for ${fallback}`,
    });
  }
  return value;
}

function isSinkName(name: string): name is SinkName {
  return (SINK_NAMES as readonly string[]).includes(name);
}

function sink(env: Env, problems: ConfigProblem[]): SinkConfig {
  const name = env.SINK?.trim() || "file";
  if (!isSinkName(name)) {
    problems.push({
      variable: "SINK",
      problem: `is "${name}": set it to one of ${SINK_NAMES.join(", ")}, or leave it unset for file`,
    });
    return { name: "file", path: "" };
  }
  switch (name) {
    case "file":
      return {
        name,
        path: required(env, "FILE_SINK_PATH", "the NDJSON file the file sink appends to", problems),
      };
  }
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): NotifierConfig {
  const problems: ConfigProblem[] = [];
  const config: NotifierConfig = {
    sink: sink(env, problems),
    deliveredTable: required(
      env,
      "DELIVERED_TABLE",
      "the name of the delivered table (TABLES.delivered)",
      problems,
    ),
    deliveredRetentionDays: days(env, "DELIVERED_RETENTION_DAYS", 14, problems),
    deadLetterQueueUrl: required(
      env,
      "DEAD_LETTER_QUEUE_URL",
      "the URL of the notifications queue's dead-letter queue",
      problems,
    ),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
