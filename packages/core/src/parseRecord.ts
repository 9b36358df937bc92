import type { PiaEvent, RecordOutcome } from "./event.js";
import { eventIdentity } from "./eventIdentity.js";
import {
  isObject,
  isTooLarge,
  LineFacts,
  MAX_TIMESTAMP,
  nonEmptyString,
  readNumberMembers,
  skipped,
  stringAttributes,
  TOO_LARGE_DETAIL,
} from "./recordText.js";
import { scanTopLevelMetrics, scanTopLevelValueText } from "./scanMetrics.js";

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
  return readPinpointRecord(record, new LineFacts(line));
}

/** Checks 1 (from `event_type`) to 5 of a parsed Pinpoint record; `facts.text` is its JSON text. */
export function readPinpointRecord(record: Record<string, unknown>, facts: LineFacts): RecordOutcome {
  const line = facts.text;
  const eventType = record.event_type;
  if (typeof eventType !== "string" || eventType === "") {
    return skipped("bad_event", "event_type is missing or not a non-empty string");
  }

  if (isIgnoredEventType(eventType)) return { kind: "ignored", eventType };

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
    const read = readNumberMembers(rawMetrics, {
      field: "metrics",
      all: true,
      facts,
      scan: () => scanTopLevelMetrics(line),
    });
    if (read.kind === "bad") return skipped("bad_metric", read.detail);
    metrics = read.metrics;
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
    typeof record.event_id === "number" && facts.longDigitRun
      ? scanTopLevelValueText(line, "event_id")
      : undefined;
  const identity = eventIdentity(record, parts, eventIdText);
  const event: PiaEvent =
    endpointId === undefined
      ? { identity, appId, userId, eventType, timestamp, attributes, metrics }
      : { identity, appId, userId, endpointId, eventType, timestamp, attributes, metrics };
  return { kind: "event", event };
}

/** Check 2: system events (`_…`, Pinpoint's own) and the events pia fires (`trk_…`) are not counted. */
export function isIgnoredEventType(eventType: string): boolean {
  return eventType.charCodeAt(0) === 0x5f || eventType.startsWith("trk_");
}
