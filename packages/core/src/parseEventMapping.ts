import { parse as parseYaml } from "yaml";

/** How `timestamp` is written: epoch milliseconds (whole), epoch seconds, or an ISO 8601 date-time. */
export const TIMESTAMP_UNITS = ["ms", "s", "iso"] as const;
export type TimestampUnit = (typeof TIMESTAMP_UNITS)[number];

/** A dotted path as written in the mapping, and its steps. */
export interface MappingPath {
  readonly text: string;
  readonly keys: readonly string[];
}

/**
 * Where an app's own JSON keeps each field of an event (docs/rules.md, "Other input formats"). Each
 * path walks object members, own members only (`__proto__` is a member like any other, never the
 * prototype); lists are not walked.
 */
export interface EventMapping {
  readonly userId: MappingPath;
  readonly eventType: MappingPath;
  readonly timestamp: MappingPath;
  readonly timestampUnit: TimestampUnit;
  /** An object whose text values are the attributes. */
  readonly attributes?: MappingPath;
  /** An object whose values are the metrics, every one a finite number. */
  readonly metrics?: MappingPath;
  readonly eventId?: MappingPath;
  readonly appId?: MappingPath;
}

/** One problem of a mapping: the key it is under and what is wrong. */
export interface MappingIssue {
  readonly key: string;
  readonly message: string;
}

/** A mapping with at least one problem: all of them are listed, and none of it is used. */
export class InvalidMappingError extends Error {
  override readonly name = "InvalidMappingError";
  constructor(
    readonly issues: readonly MappingIssue[],
    readonly source = "mapping",
  ) {
    super(
      `${source}: ${issues.length} problem${issues.length === 1 ? "" : "s"}; fix every one listed\n${issues
        .map((issue) => `  ${issue.key}: ${issue.message}`)
        .join("\n")}`,
    );
  }
}

/** Longer mapping text is refused unread: a real mapping is a few lines. */
export const MAX_MAPPING_CHARS = 65_536;
/** Steps in one path. */
const MAX_PATH_KEYS = 32;
/** Characters in one path. */
const MAX_PATH_CHARS = 1_024;

const PATH_KEYS = ["userId", "eventType", "timestamp", "attributes", "metrics", "eventId", "appId"] as const;
const REQUIRED: ReadonlySet<string> = new Set(["userId", "eventType", "timestamp"]);
const KNOWN_KEYS: readonly string[] = [...PATH_KEYS, "timestampUnit"];

/** Levenshtein distance, for "did you mean" on short keys only. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function unknownKeyMessage(key: string): string {
  const close = key.length <= 40 ? KNOWN_KEYS.find((known) => distance(key, known) <= 2) : undefined;
  const hint = close === undefined ? "" : ` (did you mean ${close}?)`;
  return `is not a mapping key${hint}; the keys are ${KNOWN_KEYS.join(", ")}`;
}

function readPath(value: unknown, key: string, issues: MappingIssue[]): MappingPath | undefined {
  if (typeof value !== "string") {
    issues.push({ key, message: "must be a dotted path written as text, e.g. user.id" });
    return undefined;
  }
  if (value === "") {
    issues.push({ key, message: "is empty: write the dotted path to the field, e.g. user.id" });
    return undefined;
  }
  if (value.length > MAX_PATH_CHARS) {
    issues.push({ key, message: `is longer than ${MAX_PATH_CHARS} characters` });
    return undefined;
  }
  const keys = value.split(".");
  if (keys.length > MAX_PATH_KEYS) {
    issues.push({ key, message: `has more than ${MAX_PATH_KEYS} steps` });
    return undefined;
  }
  if (keys.some((step) => step === "")) {
    issues.push({ key, message: "has an empty step (a leading, trailing or doubled dot)" });
    return undefined;
  }
  return { text: value, keys };
}

/**
 * Reads and checks a mapping written in YAML or JSON (JSON is YAML too). Every problem is listed at
 * once, each with its key: text that is not YAML, a mapping that is not an object, unknown keys, a
 * missing required path, a path that is not text, is empty or has an empty step, an unknown unit.
 */
export function parseEventMapping(text: string, source?: string): EventMapping {
  const fail = (issues: MappingIssue[]) => new InvalidMappingError(issues, source);
  if (text.length > MAX_MAPPING_CHARS) {
    throw fail([
      { key: "(file)", message: `is over ${MAX_MAPPING_CHARS} characters; a mapping is a few lines` },
    ]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw fail([{ key: "(file)", message: `is not valid YAML or JSON: ${reason}` }]);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw fail([
      { key: "(file)", message: "must be a mapping of keys to dotted paths, e.g. userId: user.id" },
    ]);
  }
  const given = document as Record<string, unknown>;
  const issues: MappingIssue[] = [];
  for (const key of Object.keys(given)) {
    if (!KNOWN_KEYS.includes(key)) issues.push({ key, message: unknownKeyMessage(key) });
  }
  const paths: Partial<Record<(typeof PATH_KEYS)[number], MappingPath>> = {};
  for (const key of PATH_KEYS) {
    const value = Object.hasOwn(given, key) ? given[key] : undefined;
    if (value === undefined || value === null) {
      if (REQUIRED.has(key)) issues.push({ key, message: "is required: the dotted path to that field" });
      continue;
    }
    const path = readPath(value, key, issues);
    if (path !== undefined) paths[key] = path;
  }
  const unit = Object.hasOwn(given, "timestampUnit") ? given.timestampUnit : undefined;
  if (unit !== undefined && !(TIMESTAMP_UNITS as readonly unknown[]).includes(unit)) {
    issues.push({
      key: "timestampUnit",
      message: `must be one of ${TIMESTAMP_UNITS.join(", ")} (default ms)`,
    });
  }
  const { userId, eventType, timestamp } = paths;
  if (issues.length > 0 || userId === undefined || eventType === undefined || timestamp === undefined) {
    throw fail(issues);
  }
  return {
    userId,
    eventType,
    timestamp,
    timestampUnit: (unit as TimestampUnit | undefined) ?? "ms",
    ...(paths.attributes === undefined ? {} : { attributes: paths.attributes }),
    ...(paths.metrics === undefined ? {} : { metrics: paths.metrics }),
    ...(paths.eventId === undefined ? {} : { eventId: paths.eventId }),
    ...(paths.appId === undefined ? {} : { appId: paths.appId }),
  };
}
