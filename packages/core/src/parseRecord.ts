import { canonicalDecimal, toDecimal } from "./decimal.js";
import { MAX_RECORD_BYTES, type PiaEvent, type RecordOutcome, type SkipReason } from "./event.js";
import { canonicalNumber, eventIdentity } from "./eventIdentity.js";
import { scanTopLevelMetrics, scanTopLevelValueText } from "./scanMetrics.js";

/** Latest epoch millisecond that is still a valid `Date` (ECMAScript time value limit). */
const MAX_TIMESTAMP = 8.64e15;

/** Smallest positive normal double; below it doubles have fewer than 15 significant digits. */
const MIN_NORMAL = 2.2250738585072014e-308;

/** Longest metric name quoted in a skip detail. */
const MAX_NAME_IN_DETAIL = 64;

/** A character of a number's mantissa: a digit or `.`. */
function isMantissaChar(code: number): boolean {
  return code <= 0x39 && code >= 0x2e && code !== 0x2f;
}

/** What may come before a member value in JSON (metric values and `event_id` are ones): `:` or whitespace. */
function mayPrecedeValue(code: number): boolean {
  return code === 0x3a || code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/**
 * Whether the text may hold a member value that is a number written with more than 15 significant
 * digits (which a double may not keep exactly): such a number has a run of 16 or more digits and
 * dots, preceded by an optional `-` and then `:` or whitespace. Runs right after a letter or a quote (inside strings, such as
 * hex ids) are not numbers; other runs inside strings and leading zeros still count, and such
 * false positives only cost the slower exact path. Any run of 16 covers a position that is 15
 * modulo 16, so only those are looked at and grown both ways, which makes this several times
 * faster than a regular expression on long records. The next look is past the run just measured:
 * looking inside it again would measure it again, once per 16 characters, which is quadratic in a
 * long run (a 1 MiB run of digits inside a string took minutes).
 */
function hasLongDigitRun(text: string): boolean {
  let i = 15;
  while (i < text.length) {
    if (!isMantissaChar(text.charCodeAt(i))) {
      i += 16;
      continue;
    }
    let start = i;
    while (start > 0 && isMantissaChar(text.charCodeAt(start - 1))) start--;
    let end = i + 1;
    while (end < text.length && isMantissaChar(text.charCodeAt(end))) end++;
    if (end - start >= 16) {
      let before = start - 1;
      if (text.charCodeAt(before) === 0x2d) before--;
      if (mayPrecedeValue(text.charCodeAt(before))) return true;
    }
    // `text[end]` is not a mantissa character, so the next run starts after it; looking at `end + 16`
    // still covers every run of 16 that starts there. Growing back from it stops at `end`.
    i = end + 16;
  }
  return false;
}

/**
 * Whether the text has a negative exponent of three or more digits (`e-400`): with at most 15
 * digits, the only way to write a nonzero number that a double rounds to zero or a subnormal.
 */
function hasLongNegativeExponent(text: string): boolean {
  for (const marker of ["e-", "E-"]) {
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 2)) {
      let digits = 0;
      while (digits < 3 && isDigit(text.charCodeAt(at + 2 + digits))) digits++;
      if (digits === 3) return true;
    }
  }
  return false;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** Whether the text takes more than `MAX_RECORD_BYTES` of UTF-8 (1 to 3 bytes per UTF-16 unit). */
function isTooLarge(text: string): boolean {
  if (text.length > MAX_RECORD_BYTES) return true;
  if (text.length * 3 <= MAX_RECORD_BYTES) return false;
  return Buffer.byteLength(text, "utf8") > MAX_RECORD_BYTES;
}

const TOO_LARGE_DETAIL = "the record is over 1 MiB (1,048,576 bytes of UTF-8, Kinesis's record limit)";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function skipped(reason: SkipReason, detail: string): RecordOutcome {
  return { kind: "skipped", reason, detail };
}

/** A key that `JSON.parse`'s objects list first, in numeric order: a canonical array index. */
function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return false;
  if (key.length > 10 || (first === 0x30 && key.length > 1)) return false;
  for (let i = 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return Number(key) < 4294967295;
}

function metricDetail(name: string): string {
  const shown = name.length > MAX_NAME_IN_DETAIL ? `${name.slice(0, MAX_NAME_IN_DETAIL)}…` : name;
  return `metrics.${shown} is not a finite number`;
}

/** Only the string-valued attributes (filters compare strings); the parsed object when all are. */
function stringAttributes(value: unknown): Record<string, string> {
  if (!isObject(value)) return {};
  // Own members only (here and below): what the record holds, whatever another module did to Object.prototype.
  for (const key of Object.keys(value)) {
    if (typeof value[key] !== "string") {
      // `fromEntries` defines own properties, so even a `__proto__` attribute is kept as data.
      return Object.fromEntries(
        Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
      );
    }
  }
  return value as Record<string, string>;
}

/**
 * Reads one Pinpoint record (one JSON line) per docs/rules.md section 2, checks 1-5 in order after the
 * size limit (`MAX_RECORD_BYTES`, `too_large`); the first failing check decides. De-duplication
 * (check 6) is the caller's: compare `event.identity`.
 *
 * Metrics come back in the order the JSON text lists them with their exact decimal value. A fast
 * path reads them from `JSON.parse` when that is provably exact (no integer-like key, which
 * `JSON.parse` would move to the front, and no number that a double could round); otherwise the
 * record's text is scanned for the `metrics` tokens.
 *
 * Skip details name the failing check and field, never a value from the record.
 */
export function parseRecord(line: string): RecordOutcome {
  if (isTooLarge(line)) return skipped("too_large", TOO_LARGE_DETAIL);
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return skipped("bad_json", "not valid JSON");
  }
  if (!isObject(record)) return skipped("bad_event", "record is not a JSON object");
  const eventType = record.event_type;
  if (typeof eventType !== "string" || eventType === "") {
    return skipped("bad_event", "event_type is missing or not a non-empty string");
  }

  if (eventType.charCodeAt(0) === 0x5f || eventType.startsWith("trk_")) return { kind: "ignored", eventType };

  const endpoint = record.endpoint;
  const user = isObject(endpoint) ? endpoint.User : undefined;
  const userId = isObject(user) ? nonEmptyString(user.UserId) : undefined;
  if (userId === undefined)
    return skipped("no_user", "endpoint.User.UserId is missing or not a non-empty string");

  const timestamp = record.event_timestamp;
  if (
    typeof timestamp !== "number" ||
    !Number.isInteger(timestamp) ||
    timestamp < 0 ||
    timestamp > MAX_TIMESTAMP
  ) {
    return skipped("bad_timestamp", "event_timestamp is not a whole number >= 0 (epoch milliseconds)");
  }

  const rawMetrics = record.metrics;
  let metrics: Array<[string, string]> = [];
  if (rawMetrics !== undefined && rawMetrics !== null) {
    if (!isObject(rawMetrics)) return skipped("bad_metric", "metrics is not an object");
    let exact = true;
    let tiny = false;
    let count = 0;
    for (const name of Object.keys(rawMetrics)) {
      count++;
      const value = rawMetrics[name];
      if (typeof value !== "number" || !Number.isFinite(value))
        return skipped("bad_metric", metricDetail(name));
      if (exact && isArrayIndex(name)) exact = false;
      if (Math.abs(value) < MIN_NORMAL) tiny = true;
    }
    if (count > 0) {
      exact = exact && !hasLongDigitRun(line) && !(tiny && hasLongNegativeExponent(line));
      metrics = exact ? fastMetrics(rawMetrics) : exactMetrics(line);
    }
  }

  const application = record.application;
  const appId =
    (isObject(application) ? nonEmptyString(application.app_id) : undefined) ??
    (isObject(endpoint) ? nonEmptyString(endpoint.ApplicationId) : undefined) ??
    "";
  const client = record.client;
  const endpointId =
    (isObject(endpoint) ? nonEmptyString(endpoint.Id) : undefined) ??
    (isObject(client) ? nonEmptyString(client.client_id) : undefined);
  const attributes = stringAttributes(record.attributes);

  const parts = { appId, userId, eventType, timestamp, attributes, metrics };
  const eventIdText =
    typeof record.event_id === "number" && hasLongDigitRun(line)
      ? scanTopLevelValueText(line, "event_id")
      : undefined;
  const identity = eventIdentity(record, parts, eventIdText);
  const event: PiaEvent =
    endpointId === undefined
      ? { identity, appId, userId, eventType, timestamp, attributes, metrics }
      : { identity, appId, userId, endpointId, eventType, timestamp, attributes, metrics };
  return { kind: "event", event };
}

/** Metrics from the parsed object; only when its key order and number values are exact. */
function fastMetrics(metrics: Record<string, unknown>): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const name of Object.keys(metrics)) entries.push([name, canonicalNumber(metrics[name] as number)]);
  return entries;
}

/** Metrics scanned from the text: text order and every digit of each number. */
function exactMetrics(line: string): Array<[string, string]> {
  const scanned = scanTopLevelMetrics(line);
  if (scanned === undefined) {
    // Unreachable for text that JSON.parse accepted with an object `metrics`.
    throw new Error("parseRecord: could not locate the metrics of a valid JSON record");
  }
  return scanned.map(([name, text]) => [name, canonicalDecimal(toDecimal(text))]);
}
