import { parseIsoDateTime } from "./dates.js";
import type { PiaEvent, RecordOutcome } from "./event.js";
import { contentIdentity, metricFields } from "./eventIdentity.js";
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
import { locateValue, scanListStarts, scanObjectAt } from "./scanMetrics.js";
import { stableJson } from "./stableJson.js";

/** Segment Spec calls that are not events: counted as `ignored`, like Pinpoint's system events. */
export const SEGMENT_OTHER_CALLS = ["identify", "page", "screen", "group", "alias"] as const;
const OTHER_CALLS: ReadonlySet<string> = new Set(SEGMENT_OTHER_CALLS);

/** A batch envelope (`{"batch": [...]}`, Segment's HTTP API and its libraries' flushes) rather than a call. */
export function isSegmentBatch(record: Record<string, unknown>): boolean {
  return Object.hasOwn(record, "batch") && !Object.hasOwn(record, "type");
}

/**
 * Reads a parsed Segment record (docs/rules.md, "Other input formats"): one call, or a batch
 * envelope, whose every call is a record of its own (one outcome each, in list order). An envelope
 * whose `batch` is not a list, or an empty list, is one `bad_event` record, so that no line goes
 * uncounted. The envelope's other fields are not read. `facts.text` is the line's JSON text.
 */
export function readSegmentRecord(record: Record<string, unknown>, facts: LineFacts): RecordOutcome[] {
  if (!isSegmentBatch(record)) {
    return [readSegmentCall(record, facts, "", () => scanObjectAt(facts.text, ["properties"]))];
  }
  const batch = record.batch;
  if (!Array.isArray(batch)) return [skipped("bad_event", "batch is not a list of calls")];
  if (batch.length === 0) return [skipped("bad_event", "batch holds no calls")];
  // Where each call starts in the text; found once, and only when a call needs the exact path.
  let starts: number[] | undefined;
  const startOf = (index: number): number => {
    starts ??= scanListStarts(facts.text, locateValue(facts.text, ["batch"])) ?? [];
    return starts[index] ?? -1;
  };
  return batch.map((call: unknown, index) =>
    isObject(call)
      ? readSegmentCall(call, facts, `batch[${index}].`, () =>
          scanObjectAt(facts.text, ["properties"], startOf(index)),
        )
      : skipped("bad_event", `batch[${index}] is not a JSON object`),
  );
}

/** The checks of docs/rules.md section 2 on one call; `prefix` places its fields in skip details. */
function readSegmentCall(
  call: Record<string, unknown>,
  facts: LineFacts,
  prefix: string,
  scanProperties: () => Array<[string, string]> | undefined,
): RecordOutcome {
  const type = call.type;
  if (typeof type !== "string" || type === "") {
    return skipped("bad_event", `${prefix}type is missing or not a non-empty string`);
  }
  if (type !== "track") {
    if (OTHER_CALLS.has(type)) return { kind: "ignored", eventType: type };
    return skipped(
      "bad_event",
      `${prefix}type is not a Segment call (track, ${SEGMENT_OTHER_CALLS.join(", ")})`,
    );
  }
  const eventType = call.event;
  if (typeof eventType !== "string" || eventType === "") {
    return skipped("bad_event", `${prefix}event is missing or not a non-empty string`);
  }
  if (isIgnoredEventType(eventType)) return { kind: "ignored", eventType };

  const userId = nonEmptyString(call.userId);
  if (userId === undefined) {
    return skipped(
      "no_user",
      `${prefix}userId is missing or not a non-empty string (anonymousId is not a user)`,
    );
  }

  const timestamp = typeof call.timestamp === "string" ? parseIsoDateTime(call.timestamp) : undefined;
  if (timestamp === undefined || timestamp < 0 || timestamp > MAX_TIMESTAMP) {
    return skipped(
      "bad_timestamp",
      `${prefix}timestamp is not an ISO 8601 date-time with Z or an offset, from 1970 on`,
    );
  }

  const rawProperties = call.properties;
  let properties: Record<string, unknown> = {};
  let metrics: Array<[string, string]> = [];
  if (rawProperties !== undefined && rawProperties !== null) {
    if (!isObject(rawProperties)) return skipped("bad_metric", `${prefix}properties is not an object`);
    const read = readNumberMembers(rawProperties, {
      field: `${prefix}properties`,
      all: false,
      facts,
      scan: scanProperties,
    });
    if (read.kind === "bad") return skipped("bad_metric", read.detail);
    properties = rawProperties;
    metrics = read.metrics;
  }

  const context = call.context;
  const app = isObject(context) ? context.app : undefined;
  const appId = (isObject(app) ? nonEmptyString(app.namespace) : undefined) ?? "";
  const attributes = stringAttributes(properties);
  const messageId = nonEmptyString(call.messageId);
  const identity =
    messageId === undefined ? segmentContentIdentity(call, properties, metrics) : `segment:${messageId}`;
  const event: PiaEvent = { identity, appId, userId, eventType, timestamp, attributes, metrics };
  return { kind: "event", event };
}

/**
 * The call without `sentAt` and `receivedAt` (a redelivery is sent and received again, yet is the
 * same event), its number properties taken out of the JSON and hashed as exact metrics instead.
 */
function segmentContentIdentity(
  call: Record<string, unknown>,
  properties: Record<string, unknown>,
  metrics: ReadonlyArray<readonly [string, string]>,
): string {
  const { sentAt: _sent, receivedAt: _received, properties: _properties, ...rest } = call;
  const others = Object.fromEntries(
    Object.entries(properties).filter(([, value]) => typeof value !== "number"),
  );
  return contentIdentity("S", [stableJson(rest), stableJson(others), ...metricFields(metrics)]);
}
