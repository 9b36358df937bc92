import { DEFAULTS, type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

export interface IngestConfig {
  readonly eventsTable: string;
  readonly quarantineTable: string;
  /** Days an applied event is kept after max(its time, its ingestion). */
  readonly eventRetentionDays: number;
  /** Days a skipped record is kept in quarantine. */
  readonly quarantineRetentionDays: number;
  /**
   * Writes `typeDay` on event items, which puts them in the events table's `byTypeDay` index that
   * rule previews query: about one write unit more per event. Absent: false.
   */
  readonly previewIndex?: boolean;
}

/** At most a century: a larger value is a typo, and the TTL must stay a plausible epoch second. */
const MAX_RETENTION_DAYS = 36_500;

/** `true` or `false` (any case); unset or empty means false. */
function readFlag(read: ReturnType<typeof readEnv>, variable: string): boolean {
  const text = read.optional(variable);
  if (text === undefined || text.toLowerCase() === "false") return false;
  if (text.toLowerCase() === "true") return true;
  read.problem(variable, `is "${text}": set it to true or false, or leave it unset for false`);
  return false;
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): IngestConfig {
  const read = readEnv(env);
  const config: IngestConfig = {
    eventsTable: read.required("EVENTS_TABLE", "name of the events table (TABLES.events)"),
    quarantineTable: read.required("QUARANTINE_TABLE", "name of the quarantine table (TABLES.quarantine)"),
    eventRetentionDays: read.wholeNumber(
      "EVENT_RETENTION_DAYS",
      DEFAULTS.ingest.eventRetentionDays,
      1,
      MAX_RETENTION_DAYS,
      "days",
    ),
    quarantineRetentionDays: read.wholeNumber(
      "QUARANTINE_RETENTION_DAYS",
      DEFAULTS.ingest.quarantineRetentionDays,
      1,
      MAX_RETENTION_DAYS,
      "days",
    ),
    previewIndex: readFlag(read, "PREVIEW_INDEX"),
  };
  read.done("ingest");
  return config;
}
