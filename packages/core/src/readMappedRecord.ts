import { parseIsoDateTime } from "./dates.js";
import { toDecimal } from "./decimal.js";
import type { PiaEvent, RecordOutcome } from "./event.js";
import {
  attributeFields,
  canonicalNumber,
  contentIdentity,
  exactNumberText,
  metricFields,
} from "./eventIdentity.js";
import type { EventMapping, MappingPath } from "./parseEventMapping.js";
import { isIgnoredEventType } from "./parseRecord.js";
import {
  isObject,
  type LineFacts,
  MAX_TIMESTAMP,
  nonEmptyString,
  readNumberMembers,
  skipped,
  stringAttributes,
} from "./recordText.js";
import { scanObjectAt, scanValueTextAt } from "./scanMetrics.js";

/** The value at a path, through own members of objects only; `undefined` when a step is missing. */
export function valueAt(record: Record<string, unknown>, path: MappingPath): unknown {
  let value: unknown = record;
  for (const key of path.keys) {
    if (!isObject(value) || !Object.hasOwn(value, key)) return undefined;
    value = value[key];
  }
  return value;
}

/** Epoch milliseconds of a mapped timestamp, or `undefined` when it is not one in that unit. */
function mappedTime(value: unknown, unit: EventMapping["timestampUnit"]): number | undefined {
  let ms: number | undefined;
  if (unit === "iso") {
    ms = typeof value === "string" ? parseIsoDateTime(value) : undefined;
  } else if (typeof value === "number" && Number.isFinite(value) && value >= 0) {
    if (unit === "ms") ms = Number.isInteger(value) ? value : undefined;
    // Seconds with a fraction: the decimal text, not a binary product, so 1.001 s is 1001 ms; finer digits are dropped.
    else if (value <= MAX_TIMESTAMP / 1000)
      ms = toDecimal(canonicalNumber(value)).times(1000).floor().toNumber();
  }
  return ms !== undefined && ms >= 0 && ms <= MAX_TIMESTAMP ? ms : undefined;
}

const UNIT_WORDS = {
  ms: "a whole number >= 0 of epoch milliseconds",
  s: "a number >= 0 of epoch seconds",
  iso: "an ISO 8601 date-time with Z or an offset, from 1970 on",
} as const;

/**
 * Reads a parsed record of an app's own shape through a mapping (docs/rules.md, "Other input
 * formats"), with the checks of section 2 in their order. `facts.text` is the record's JSON text.
 */
export function readMappedRecord(
  record: Record<string, unknown>,
  facts: LineFacts,
  mapping: EventMapping,
): RecordOutcome {
  const eventType = valueAt(record, mapping.eventType);
  if (typeof eventType !== "string" || eventType === "") {
    return skipped("bad_event", `${mapping.eventType.text} (eventType) is missing or not a non-empty string`);
  }
  if (isIgnoredEventType(eventType)) return { kind: "ignored", eventType };

  const userId = nonEmptyString(valueAt(record, mapping.userId));
  if (userId === undefined) {
    return skipped("no_user", `${mapping.userId.text} (userId) is missing or not a non-empty string`);
  }

  const timestamp = mappedTime(valueAt(record, mapping.timestamp), mapping.timestampUnit);
  if (timestamp === undefined) {
    return skipped(
      "bad_timestamp",
      `${mapping.timestamp.text} (timestamp) is not ${UNIT_WORDS[mapping.timestampUnit]}`,
    );
  }

  let metrics: Array<[string, string]> = [];
  const metricsPath = mapping.metrics;
  if (metricsPath !== undefined) {
    const rawMetrics = valueAt(record, metricsPath);
    if (rawMetrics !== undefined && rawMetrics !== null) {
      if (!isObject(rawMetrics))
        return skipped("bad_metric", `${metricsPath.text} (metrics) is not an object`);
      const read = readNumberMembers(rawMetrics, {
        field: metricsPath.text,
        all: true,
        facts,
        scan: () => scanObjectAt(facts.text, metricsPath.keys),
      });
      if (read.kind === "bad") return skipped("bad_metric", read.detail);
      metrics = read.metrics;
    }
  }

  const rawAttributes = mapping.attributes === undefined ? undefined : valueAt(record, mapping.attributes);
  const attributes = stringAttributes(rawAttributes);
  const appId = mapping.appId === undefined ? "" : (nonEmptyString(valueAt(record, mapping.appId)) ?? "");
  const event: PiaEvent = {
    identity: mappedIdentity(record, facts, mapping, {
      appId,
      userId,
      eventType,
      timestamp,
      attributes: isObject(rawAttributes) ? rawAttributes : {},
      metrics,
    }),
    appId,
    userId,
    eventType,
    timestamp,
    attributes,
    metrics,
  };
  return { kind: "event", event };
}

/**
 * `mapped:` + the `eventId` (text verbatim; a number by its exact value, as Pinpoint's `event_id`),
 * else a hash of the mapped fields only: other fields of the record (a delivery time, say) do not
 * make a redelivery a new event.
 */
function mappedIdentity(
  record: Record<string, unknown>,
  facts: LineFacts,
  mapping: EventMapping,
  parts: Omit<PiaEvent, "identity" | "attributes"> & { attributes: Record<string, unknown> },
): string {
  if (mapping.eventId !== undefined) {
    const eventId = valueAt(record, mapping.eventId);
    if (typeof eventId === "string" && eventId !== "") return `mapped:${eventId}`;
    if (typeof eventId === "number" && Number.isFinite(eventId)) {
      const text = facts.longDigitRun ? scanValueTextAt(facts.text, mapping.eventId.keys) : undefined;
      return `mapped:${text === undefined ? canonicalNumber(eventId) : exactNumberText(text, eventId)}`;
    }
  }
  return contentIdentity("M", [
    parts.appId,
    parts.userId,
    parts.eventType,
    String(parts.timestamp),
    ...attributeFields(parts.attributes),
    ...metricFields(parts.metrics),
  ]);
}
