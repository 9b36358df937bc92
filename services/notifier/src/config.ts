import { DEFAULTS, type Env, readEnv } from "@pia/aws";
import { SINK_NAMES, type SinkName } from "@pia/core";
import {
  DEFAULT_PROFILES_OBJECT_TYPE,
  PROFILES_KEY_PATTERN,
  PROFILES_OBJECT_TYPE_PATTERN,
  PROFILES_UNIQUE_KEY,
} from "./profiles/objectType.js";

export { ConfigError } from "@pia/aws";
export { SINK_NAMES, type SinkName };

/** The settings of each sink; a sink is available on a stage when its settings are given. */
export type SinkConfig =
  | { readonly name: "file"; readonly path: string }
  | { readonly name: "pinpoint"; readonly applicationId?: string }
  | {
      readonly name: "customer-profiles";
      readonly domainName: string;
      readonly objectTypeName: string;
      readonly keyName: string;
    }
  | { readonly name: "eventbridge"; readonly eventBusName: string; readonly source: string }
  | {
      readonly name: "webhook";
      readonly url: string;
      readonly secretParameter?: string;
      readonly secretId?: string;
    };

export interface NotifierConfig {
  /** Where a notification goes when its rule names no sink (`SINK`, default file). */
  readonly sink: SinkConfig;
  /** Every sink available on this stage (`SINKS`, default just `SINK`), the default included. */
  readonly sinks: readonly SinkConfig[];
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

type Reader = ReturnType<typeof readEnv>;

function sinkConfig(read: Reader, name: SinkName): SinkConfig {
  switch (name) {
    case "file":
      return { name, path: read.required("FILE_SINK_PATH", "NDJSON file the file sink appends to") };
    case "pinpoint": {
      const applicationId = read.optional("PINPOINT_APPLICATION_ID");
      return applicationId === undefined ? { name } : { name, applicationId };
    }
    case "customer-profiles": {
      const keyName = read.required(
        "PROFILES_KEY",
        "search key the app's profiles are found by (the PROFILE key of pia's object type, on the user id)",
      );
      const objectTypeName = read.optional("PROFILES_OBJECT_TYPE") ?? DEFAULT_PROFILES_OBJECT_TYPE;
      if (keyName !== "" && (!PROFILES_KEY_PATTERN.test(keyName) || keyName === PROFILES_UNIQUE_KEY))
        read.problem(
          "PROFILES_KEY",
          `must be 1-64 letters, digits, "_" or "-", and not ${PROFILES_UNIQUE_KEY} (pia's own UNIQUE key)`,
        );
      if (!PROFILES_OBJECT_TYPE_PATTERN.test(objectTypeName))
        read.problem(
          "PROFILES_OBJECT_TYPE",
          'must start with a letter or "_", then letters, digits, "_" or "-"',
        );
      return {
        name,
        domainName: read.required("PROFILES_DOMAIN", "Customer Profiles domain name"),
        objectTypeName,
        keyName,
      };
    }
    case "eventbridge":
      return {
        name,
        eventBusName: read.required("EVENT_BUS_NAME", "event bus name or ARN"),
        source: read.optional("EVENT_SOURCE") ?? "pia",
      };
    case "webhook": {
      const secretParameter = read.optional("WEBHOOK_SECRET_PARAMETER");
      const secretId = read.optional("WEBHOOK_SECRET_ID");
      if ((secretParameter === undefined) === (secretId === undefined)) {
        read.problem(
          secretParameter === undefined ? "WEBHOOK_SECRET_PARAMETER" : "WEBHOOK_SECRET_ID",
          "set exactly one of WEBHOOK_SECRET_PARAMETER (an SSM SecureString) and WEBHOOK_SECRET_ID (a Secrets Manager secret)",
        );
      }
      return {
        name,
        url: read.required("WEBHOOK_URL", "https:// URL the webhook sink posts to"),
        ...(secretParameter === undefined ? {} : { secretParameter }),
        ...(secretId === undefined ? {} : { secretId }),
      };
    }
  }
}

function sinkName(read: Reader, variable: string, text: string): SinkName | undefined {
  if (isSinkName(text)) return text;
  read.problem(variable, `names "${text}": use ${SINK_NAMES.join(", ")}`);
  return undefined;
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): NotifierConfig {
  const read = readEnv(env);
  const defaultName = sinkName(read, "SINK", read.optional("SINK") ?? "file") ?? "file";
  const listed = (read.optional("SINKS") ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
    .flatMap((name) => sinkName(read, "SINKS", name) ?? []);
  const names = [...new Set<SinkName>([defaultName, ...listed])];
  const sinks = names.map((name) => sinkConfig(read, name));
  const config: NotifierConfig = {
    sink: sinks[0] as SinkConfig,
    sinks,
    deliveredTable: read.required("DELIVERED_TABLE", "name of the delivered table (TABLES.delivered)"),
    deliveredRetentionDays: read.wholeNumber(
      "DELIVERED_RETENTION_DAYS",
      DEFAULTS.notifier.deliveredRetentionDays,
      1,
      MAX_RETENTION_DAYS,
      "days",
    ),
    deadLetterQueueUrl: read.required(
      "DEAD_LETTER_QUEUE_URL",
      "URL of the notifications queue's dead-letter queue",
    ),
  };
  read.done("notifier");
  return config;
}

/** One sink's settings from the environment (for `pia local --sink`); throws a `ConfigError`. */
export function loadSinkConfig(env: Env, name: SinkName): SinkConfig {
  const read = readEnv(env);
  const config = sinkConfig(read, name);
  read.done(`${name} sink`);
  return config;
}
