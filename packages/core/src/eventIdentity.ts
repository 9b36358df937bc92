import { hash } from "node:crypto";
import { canonicalDecimal, toDecimal } from "./decimal.js";
import type { PiaEvent } from "./event.js";
import { stableJson } from "./stableJson.js";

/** The already validated fields of an event that its identity is built from. */
export type IdentityParts = Pick<
  PiaEvent,
  "appId" | "userId" | "eventType" | "timestamp" | "attributes" | "metrics"
>;

/**
 * The canonical decimal text of a finite JSON number as `JSON.parse` gave it (`1`, `1.0` and
 * `1e0` all give `1`). Without an exponent, `String(value)` already is that text; only the
 * exponent forms (`1e+21`, `1e-7`) go through the decimal type.
 */
export function canonicalNumber(value: number): string {
  const text = String(value);
  return text.includes("e") ? canonicalDecimal(toDecimal(text)) : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrEmpty(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** `<length>:<text>`: self-delimiting, so a run of fields reads back in exactly one way. */
function field(text: string): string {
  return `${text.length}:${text}`;
}

/** `String.prototype.isWellFormed` (ES2024, Node 20+): the project's lib is ES2023, so typed here. */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

function byName(a: readonly [string, string], b: readonly [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The identity of a record (docs/rules.md section 2): equal identities are the same event.
 *
 * - A top-level `event_id` that is a non-empty string gives `id:<string>`. One that is a finite
 *   number gives `id:<canonical decimal>`: numbers are taken by value, and the number and the
 *   string of its canonical text are deliberately the same id, so `1`, `1.0` and `"1"` are one
 *   event (a producer that switches between writing ids as numbers and strings still
 *   de-duplicates). A string is taken verbatim: `"1.0"` is not `"1"`. `JSON.parse` keeps only
 *   ~15-17 significant digits of a number, so a caller that has the record's text should pass the
 *   exact token of a numeric `event_id` as `eventIdText`; otherwise long numeric ids that differ
 *   only beyond those digits would be merged.
 * - Otherwise `h:` + base64url of the first 16 bytes of SHA-256 over an unambiguous serialization
 *   of: raw `application.app_id`, `endpoint.Id`, the user id, `event_type`, `event_timestamp`,
 *   `session.session_id` (each `""` when not a string), every attribute as a key/value pair sorted
 *   by key (non-string values included as sorted-key JSON, so they still tell records apart), and
 *   the metrics as [name, canonical decimal text] sorted by name. `arrival_timestamp` and every
 *   other field are not part of it: a redelivery is the same event. The serialization is a run of
 *   length-prefixed fields (`5:app-1`), attribute values tagged `s` (string) or `j` (JSON), and
 *   counts before the attributes and the metrics; it is about twice as fast to build as
 *   `JSON.stringify` of nested arrays. A serialization containing a lone UTF-16 surrogate is
 *   hashed as its JSON string instead, since UTF-8 would merge different lone surrogates.
 *
 * `parts.appId` (the resolved app, which falls back to `endpoint.ApplicationId`) and
 * `parts.attributes` (string values only) are not hashed: the raw `application.app_id` and all
 * raw attributes are, as the contract lists them.
 */
export function eventIdentity(
  record: Record<string, unknown>,
  parts: IdentityParts,
  eventIdText?: string,
): string {
  const eventId = record.event_id;
  if (typeof eventId === "string" && eventId !== "") return `id:${eventId}`;
  if (typeof eventId === "number" && Number.isFinite(eventId)) {
    return `id:${eventIdText === undefined ? canonicalNumber(eventId) : exactNumberText(eventIdText, eventId)}`;
  }

  const application = record.application;
  const endpoint = record.endpoint;
  const session = record.session;
  const rawAttributes = record.attributes;
  const attributes = isObject(rawAttributes) ? rawAttributes : {};
  const keys = Object.keys(attributes).sort();
  const metrics = parts.metrics.length > 1 ? [...parts.metrics].sort(byName) : parts.metrics;

  let serialized =
    field(isObject(application) ? stringOrEmpty(application.app_id) : "") +
    field(isObject(endpoint) ? stringOrEmpty(endpoint.Id) : "") +
    field(parts.userId) +
    field(parts.eventType) +
    field(String(parts.timestamp)) +
    field(isObject(session) ? stringOrEmpty(session.session_id) : "") +
    field(String(keys.length));
  for (const key of keys) {
    const value = attributes[key];
    serialized +=
      field(key) + (typeof value === "string" ? `s${field(value)}` : `j${field(stableJson(value))}`);
  }
  serialized += field(String(metrics.length));
  for (const [name, text] of metrics) serialized += field(name) + field(text);

  if (!isWellFormed(serialized)) {
    // UTF-8 encoding maps every lone surrogate to U+FFFD; JSON escapes them, so it keeps them apart.
    // It starts with a quote, never a digit, so it cannot equal a length-prefixed serialization.
    serialized = JSON.stringify(serialized);
  }
  return `h:${first16BytesBase64url(hash("sha256", serialized, "base64url"))}`;
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * The base64url text of the first 16 bytes of a digest, from the base64url text of the whole
 * digest (asking for a string is much faster than for a Buffer): the first 21 characters carry
 * 126 bits; the 22nd keeps its top 2 bits, the rest zero as canonical base64url has it.
 */
function first16BytesBase64url(digest: string): string {
  const last = BASE64URL.indexOf(digest.charAt(21));
  return digest.slice(0, 21) + BASE64URL.charAt(last & 0x30);
}

const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/;

/** The canonical text of a JSON number token, or of the parsed value when the token is not one. */
export function exactNumberText(text: string, value: number): string {
  return JSON_NUMBER.test(text) ? canonicalDecimal(toDecimal(text)) : canonicalNumber(value);
}

/**
 * The content identity of a record of another format (docs/rules.md, "Other input formats"):
 * `h:` + the same 16-byte SHA-256 prefix as above, over `tag` followed by the length-prefixed
 * `fields`. The tag (`S` for Segment calls, `M` for mapped records) is a letter, and a Pinpoint
 * serialization starts with a digit or a quote, so the formats' hashes never hash the same text:
 * the same event written in two formats has two identities, and redeliveries within a format meet.
 */
export function contentIdentity(tag: "S" | "M", fields: readonly string[]): string {
  let body = "";
  for (const text of fields) body += field(text);
  const serialized = isWellFormed(body) ? tag + body : tag + JSON.stringify(body);
  return `h:${first16BytesBase64url(hash("sha256", serialized, "base64url"))}`;
}

/** Attributes as sorted key/value fields, non-string values as sorted-key JSON (as for Pinpoint). */
export function attributeFields(attributes: Record<string, unknown>): string[] {
  const keys = Object.keys(attributes).sort();
  const fields = [String(keys.length)];
  for (const key of keys) {
    const value = attributes[key];
    fields.push(key, typeof value === "string" ? `s${value}` : `j${stableJson(value)}`);
  }
  return fields;
}

/** Metrics as sorted name/value fields: the order a record lists them in does not change its identity. */
export function metricFields(metrics: ReadonlyArray<readonly [string, string]>): string[] {
  const sorted = metrics.length > 1 ? [...metrics].sort(byName) : metrics;
  const fields = [String(sorted.length)];
  for (const [name, text] of sorted) fields.push(name, text);
  return fields;
}
