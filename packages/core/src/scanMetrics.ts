/**
 * A small scanner over JSON text that recovers what `JSON.parse` loses for `metrics`: the order in
 * which the text lists the keys (`JSON.parse` moves integer-like keys such as "0" or "7" to the
 * front) and each number's exact text (a binary float keeps only ~15-17 significant digits).
 *
 * The text is expected to be valid JSON (the caller has already parsed it); on malformed text the
 * scanner gives up with `undefined` rather than guessing.
 */

const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,
const COLON = 0x3a; // :
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipWhitespace(text: string, index: number): number {
  let i = index;
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** `index` is at an opening quote; returns the index just after the closing quote, or -1. */
function endOfString(text: string, index: number): number {
  let quote = text.indexOf('"', index + 1);
  while (quote !== -1) {
    let backslashes = 0;
    for (let j = quote - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = text.indexOf('"', quote + 1);
  }
  return -1;
}

/** `index` is at the first character of a value; returns the index just after it, or -1. */
function endOfValue(text: string, index: number): number {
  const first = text.charCodeAt(index);
  if (first === QUOTE) return endOfString(text, index);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    let i = index;
    while (i < text.length) {
      const code = text.charCodeAt(i);
      if (code === QUOTE) {
        i = endOfString(text, i);
        if (i === -1) return -1;
        continue;
      }
      if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
      else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number, true, false or null: runs until a delimiter.
  let i = index;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isWhitespace(code)) break;
    i++;
  }
  return i === index ? -1 : i;
}

/** Decodes a key token (with its quotes); escapes are rare, so only then is `JSON.parse` used. */
function decodeKey(text: string, start: number, end: number): string | undefined {
  const inner = text.slice(start + 1, end - 1);
  if (!inner.includes("\\")) return inner;
  try {
    const decoded: unknown = JSON.parse(text.slice(start, end));
    return typeof decoded === "string" ? decoded : undefined;
  } catch {
    return undefined;
  }
}

interface ObjectWalk {
  /** Called for each member with its decoded key and the value's start and end index. */
  member(key: string, valueStart: number, valueEnd: number): void;
}

/** Walks the members of the object at `index` (an opening brace); returns the index after it or -1. */
function walkObject(text: string, index: number, walk: ObjectWalk): number {
  let i = skipWhitespace(text, index + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const keyEnd = endOfString(text, i);
    if (keyEnd === -1) return -1;
    const key = decodeKey(text, i, keyEnd);
    if (key === undefined) return -1;
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return -1;
    const valueStart = skipWhitespace(text, i + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (valueEnd === -1) return -1;
    walk.member(key, valueStart, valueEnd);
    i = skipWhitespace(text, valueEnd);
    const next = text.charCodeAt(i);
    if (next === CLOSE_BRACE) return i + 1;
    if (next !== COMMA) return -1;
    i = skipWhitespace(text, i + 1);
  }
}

/** The members of the object at `index` in text order, values as raw JSON text; duplicates like JS objects. */
function scanEntries(text: string, index: number): Array<[string, string]> | undefined {
  const entries: Array<[string, string]> = [];
  const positions = new Map<string, number>();
  const end = walkObject(text, index, {
    member(key, valueStart, valueEnd) {
      const raw = text.slice(valueStart, valueEnd);
      const position = positions.get(key);
      const existing = position === undefined ? undefined : entries[position];
      if (existing === undefined) {
        positions.set(key, entries.length);
        entries.push([key, raw]);
      } else {
        // A repeated key keeps its first position and takes the last value, as `JSON.parse` does.
        existing[1] = raw;
      }
    },
  });
  return end === -1 ? undefined : entries;
}

/**
 * The entries of the top-level `metrics` object of a JSON record, in the order the text lists them,
 * each value as its raw JSON text (for numbers: the exact number token, e.g. `1.50` or `1e3`).
 *
 * Follows `JSON.parse` semantics for repeated keys: the last top-level `metrics` wins, and within
 * it a repeated key keeps its first position with its last value. Keys are compared after decoding
 * escapes (`"metr\u0069cs"` is `metrics`). Returns `undefined` when the text is not a JSON object,
 * has no top-level `metrics`, the last `metrics` is not an object, or the text is malformed.
 */
export function scanTopLevelMetrics(text: string): Array<[string, string]> | undefined {
  const start = skipWhitespace(text, 0);
  if (text.charCodeAt(start) !== OPEN_BRACE) return undefined;
  let found: Array<[string, string]> | undefined;
  let malformed = false;
  const end = walkObject(text, start, {
    member(key, valueStart) {
      if (key !== "metrics") return;
      if (text.charCodeAt(valueStart) !== OPEN_BRACE) {
        found = undefined;
        return;
      }
      const entries = scanEntries(text, valueStart);
      if (entries === undefined) malformed = true;
      found = entries;
    },
  });
  if (end === -1 || malformed) return undefined;
  return found;
}

/**
 * The raw JSON text of the top-level member `key` of a JSON object record (the last one when the
 * key repeats, as `JSON.parse` keeps), or `undefined` when there is none or the text is malformed.
 */
export function scanTopLevelValueText(text: string, key: string): string | undefined {
  const start = skipWhitespace(text, 0);
  if (text.charCodeAt(start) !== OPEN_BRACE) return undefined;
  let found: string | undefined;
  const end = walkObject(text, start, {
    member(name, valueStart, valueEnd) {
      if (name === key) found = text.slice(valueStart, valueEnd);
    },
  });
  return end === -1 ? undefined : found;
}

/**
 * The index where the value at `path` starts, walking object members from the value that starts at
 * `from` (default: the whole text); each step takes the last member of that name, as `JSON.parse`
 * keeps. Lists are not walked. -1 when a step is missing, not an object, or the text is malformed.
 * Each step reads the value it enters once, so the cost is at most the text's length per step.
 */
export function locateValue(text: string, path: readonly string[], from = skipWhitespace(text, 0)): number {
  let at = from;
  for (const key of path) {
    if (text.charCodeAt(at) !== OPEN_BRACE) return -1;
    let found = -1;
    const end = walkObject(text, at, {
      member(name, valueStart) {
        if (name === key) found = valueStart;
      },
    });
    if (end === -1 || found === -1) return -1;
    at = found;
  }
  return at;
}

/** The members of the object at `path` (see `locateValue`) in text order, values as raw JSON text. */
export function scanObjectAt(
  text: string,
  path: readonly string[],
  from?: number,
): Array<[string, string]> | undefined {
  const at = locateValue(text, path, from);
  if (at === -1 || text.charCodeAt(at) !== OPEN_BRACE) return undefined;
  return scanEntries(text, at);
}

/** The raw JSON text of the value at `path` (see `locateValue`), or `undefined`. */
export function scanValueTextAt(text: string, path: readonly string[], from?: number): string | undefined {
  const at = locateValue(text, path, from);
  if (at === -1) return undefined;
  const end = endOfValue(text, at);
  return end === -1 ? undefined : text.slice(at, end);
}

/** Where each element of the list at `index` (an opening bracket) starts, or `undefined` when malformed. */
export function scanListStarts(text: string, index: number): number[] | undefined {
  if (text.charCodeAt(index) !== OPEN_BRACKET) return undefined;
  const starts: number[] = [];
  let i = skipWhitespace(text, index + 1);
  if (text.charCodeAt(i) === CLOSE_BRACKET) return starts;
  for (;;) {
    const end = endOfValue(text, i);
    if (end === -1) return undefined;
    starts.push(i);
    i = skipWhitespace(text, end);
    const next = text.charCodeAt(i);
    if (next === CLOSE_BRACKET) return starts;
    if (next !== COMMA) return undefined;
    i = skipWhitespace(text, i + 1);
  }
}
