/**
 * What every record reader shares (docs/rules.md section 2): the size limit, the cheap tests that
 * tell whether `JSON.parse` kept a record's numbers exactly, and small checks on parsed values.
 */
import { canonicalDecimal, toDecimal } from "./decimal.js";
import { MAX_RECORD_BYTES, type RecordOutcome, type SkipReason } from "./event.js";
import { canonicalNumber } from "./eventIdentity.js";

/** Latest epoch millisecond that is still a valid `Date` (ECMAScript time value limit). */
export const MAX_TIMESTAMP = 8.64e15;

/** Smallest positive normal double; below it doubles have fewer than 15 significant digits. */
export const MIN_NORMAL = 2.2250738585072014e-308;

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
export function hasLongDigitRun(text: string): boolean {
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
export function hasLongNegativeExponent(text: string): boolean {
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
export function isTooLarge(text: string): boolean {
  if (text.length > MAX_RECORD_BYTES) return true;
  if (text.length * 3 <= MAX_RECORD_BYTES) return false;
  return Buffer.byteLength(text, "utf8") > MAX_RECORD_BYTES;
}

export const TOO_LARGE_DETAIL = "the record is over 1 MiB (1,048,576 bytes of UTF-8, Kinesis's record limit)";

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function skipped(reason: SkipReason, detail: string): RecordOutcome {
  return { kind: "skipped", reason, detail };
}

/** A key that `JSON.parse`'s objects list first, in numeric order: a canonical array index. */
export function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  if (first < 0x30 || first > 0x39) return false;
  if (key.length > 10 || (first === 0x30 && key.length > 1)) return false;
  for (let i = 1; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return Number(key) < 4294967295;
}

export function metricDetail(field: string, name: string): string {
  const shown = name.length > MAX_NAME_IN_DETAIL ? `${name.slice(0, MAX_NAME_IN_DETAIL)}…` : name;
  return `${field}.${shown} is not a finite number`;
}

/** Only the string-valued attributes (filters compare strings); the parsed object when all are. */
export function stringAttributes(value: unknown): Record<string, string> {
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

/** Facts about a record's whole text, worked out at most once however many calls a line holds. */
export class LineFacts {
  #longDigitRun: boolean | undefined;
  #longNegativeExponent: boolean | undefined;
  constructor(readonly text: string) {}
  get longDigitRun(): boolean {
    this.#longDigitRun ??= hasLongDigitRun(this.text);
    return this.#longDigitRun;
  }
  get longNegativeExponent(): boolean {
    this.#longNegativeExponent ??= hasLongNegativeExponent(this.text);
    return this.#longNegativeExponent;
  }
}

export type NumberMembers =
  | { readonly kind: "numbers"; readonly metrics: Array<[string, string]> }
  | { readonly kind: "bad"; readonly detail: string };

export interface NumberMembersOptions {
  /** The field's path in skip details (`metrics`, `properties`, `batch[2].properties`). */
  readonly field: string;
  /** Every member must be a finite number (Pinpoint's `metrics`); otherwise other values are passed over. */
  readonly all: boolean;
  readonly facts: LineFacts;
  /** The object's members from the text, in text order with raw values: the exact path. */
  readonly scan: () => Array<[string, string]> | undefined;
}

/** A raw JSON value that is a number token. */
function isNumberToken(raw: string): boolean {
  const first = raw.charCodeAt(0);
  return first === 0x2d || (first >= 0x30 && first <= 0x39);
}

/**
 * The number members of a parsed object, in the order the text lists them, each as its exact
 * canonical decimal; a number that `JSON.parse` made infinite (`1e999`) is a bad metric, named in
 * the detail. The parsed values are used when they are provably exact (no integer-like name, which
 * `JSON.parse` would move to the front, and no number a double could round); otherwise `scan`
 * reads the members from the text.
 */
export function readNumberMembers(
  object: Record<string, unknown>,
  options: NumberMembersOptions,
): NumberMembers {
  let exact = true;
  let tiny = false;
  let count = 0;
  // Own members only: what the record holds, whatever another module did to Object.prototype.
  for (const name of Object.keys(object)) {
    const value = object[name];
    if (typeof value !== "number") {
      if (options.all) return { kind: "bad", detail: metricDetail(options.field, name) };
      continue;
    }
    if (!Number.isFinite(value)) return { kind: "bad", detail: metricDetail(options.field, name) };
    count++;
    if (exact && isArrayIndex(name)) exact = false;
    if (Math.abs(value) < MIN_NORMAL) tiny = true;
  }
  if (count === 0) return { kind: "numbers", metrics: [] };
  const { facts } = options;
  if (exact && !facts.longDigitRun && !(tiny && facts.longNegativeExponent)) {
    const metrics: Array<[string, string]> = [];
    for (const name of Object.keys(object)) {
      const value = object[name];
      if (typeof value === "number") metrics.push([name, canonicalNumber(value)]);
    }
    return { kind: "numbers", metrics };
  }
  const scanned = options.scan();
  if (scanned === undefined) {
    // Unreachable for text that JSON.parse accepted with this object in it.
    throw new Error(`could not locate ${options.field} in the text of a valid JSON record`);
  }
  const metrics: Array<[string, string]> = [];
  for (const [name, raw] of scanned) {
    if (isNumberToken(raw)) metrics.push([name, canonicalDecimal(toDecimal(raw))]);
  }
  return { kind: "numbers", metrics };
}
