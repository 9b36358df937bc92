import { type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

export interface RulesApiConfig {
  readonly rulesTable: string;
  /** Browser origins (`https://host[:port]`) allowed to call the API; empty: no CORS headers. */
  readonly allowedOrigins: readonly string[];
  /** The events table whose `byTypeDay` index previews read; absent: `POST /rules/preview` answers 409. */
  readonly eventsTable?: string;
  /** Days a preview of a rule without a window reads, up to today (default `DEFAULT_PREVIEW_DAYS`). */
  readonly previewDays?: number;
  /** Events a preview reads at most before it stops, truncated (default `DEFAULT_PREVIEW_MAX_EVENTS`). */
  readonly previewMaxEvents?: number;
}

export const DEFAULT_PREVIEW_DAYS = 30;
/** The longest stretch of days a preview reads (also for a window rule): the default event retention. */
export const MAX_PREVIEW_DAYS = 400;
export const DEFAULT_PREVIEW_MAX_EVENTS = 200_000;
/** Events are held in memory while a preview is computed (a few hundred bytes each). */
const MAX_PREVIEW_MAX_EVENTS = 1_000_000;

/** `https://editor.example.com` as a browser sends it in `Origin`: scheme, host and port only. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
  } catch {
    return false;
  }
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): RulesApiConfig {
  const read = readEnv(env);
  const rulesTable = read.required("RULES_TABLE", "name of the rules table (TABLES.rules)");
  const origins = (read.optional("ALLOWED_ORIGIN") ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  const bad = origins.filter((origin) => !isOrigin(origin));
  if (bad.length > 0) {
    read.problem(
      "ALLOWED_ORIGIN",
      `has ${bad.map((origin) => JSON.stringify(origin)).join(", ")}: set it to the web editor's origin (scheme, host and port, no path or trailing slash, e.g. https://rules.example.com), several separated by commas, or leave it unset for no CORS headers`,
    );
  }
  const eventsTable = read.optional("EVENTS_TABLE");
  const previewDays = read.wholeNumber("PREVIEW_DAYS", DEFAULT_PREVIEW_DAYS, 1, MAX_PREVIEW_DAYS, "days");
  const previewMaxEvents = read.wholeNumber(
    "PREVIEW_MAX_EVENTS",
    DEFAULT_PREVIEW_MAX_EVENTS,
    1,
    MAX_PREVIEW_MAX_EVENTS,
    "events",
  );
  read.done("rules");
  return {
    rulesTable,
    allowedOrigins: origins,
    ...(eventsTable === undefined ? {} : { eventsTable }),
    previewDays,
    previewMaxEvents,
  };
}
