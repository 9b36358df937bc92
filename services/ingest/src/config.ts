import { DEFAULTS, type Env, readEnv } from "@pia/aws";
import {
  type EventMapping,
  INPUT_FORMATS,
  type InputFormat,
  InvalidMappingError,
  parseEventMapping,
} from "@pia/core";

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
  /** The stream's record format (docs/rules.md, "Other input formats"). Absent: `auto`. */
  readonly inputFormat?: InputFormat;
  /** How the `json` format reads a record; present exactly when `inputFormat` is `json`. */
  readonly inputMapping?: EventMapping;
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

/** `INPUT_FORMAT` (default auto) and `INPUT_MAPPING`, the mapping's JSON or YAML text, needed by json only. */
function readInput(read: ReturnType<typeof readEnv>): Pick<IngestConfig, "inputFormat" | "inputMapping"> {
  const text = read.optional("INPUT_FORMAT") ?? "auto";
  const format = (INPUT_FORMATS as readonly string[]).includes(text) ? (text as InputFormat) : undefined;
  if (format === undefined)
    read.problem("INPUT_FORMAT", `is "${text}": set it to one of ${INPUT_FORMATS.join(", ")}`);
  const mappingText = read.optional("INPUT_MAPPING");
  if (format === "json" && mappingText === undefined) {
    read.problem("INPUT_MAPPING", "is not set: the json format needs the mapping (its JSON or YAML text)");
  }
  if (format !== undefined && format !== "json" && mappingText !== undefined) {
    read.problem("INPUT_MAPPING", `is set, but INPUT_FORMAT is ${format}: a mapping is only read with json`);
  }
  if (format !== "json" || mappingText === undefined)
    return format === undefined ? {} : { inputFormat: format };
  try {
    return { inputFormat: format, inputMapping: parseEventMapping(mappingText) };
  } catch (error: unknown) {
    if (!(error instanceof InvalidMappingError)) throw error;
    read.problem(
      "INPUT_MAPPING",
      `is not a valid mapping: ${error.issues.map(({ key, message }) => `${key} ${message}`).join("; ")}`,
    );
    return { inputFormat: format };
  }
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
    ...readInput(read),
  };
  read.done("ingest");
  return config;
}
