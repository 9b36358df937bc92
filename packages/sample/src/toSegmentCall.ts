/**
 * The Segment Spec form of a sample Pinpoint record, with the same meaning for pia (docs/rules.md,
 * "Other input formats"): the same user, event, instant, attributes and metrics, and a redelivery
 * of a record becomes a redelivery of the call. Only a function of the record, never of a random
 * draw, so both forms of a sample hold the same events.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function objectAt(value: Json | undefined): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
}

/** UTC offsets of the calls' local times; some move the date (23:30-02:00 is the next UTC day). */
const OFFSETS = [0, 120, -120, 330, -480, 780] as const;

function offsetOf(key: string): number {
  let sum = 0;
  for (let i = 0; i < key.length; i++) sum = (sum + key.charCodeAt(i)) % 9973;
  return OFFSETS[sum % OFFSETS.length] ?? 0;
}

/** `ms` as the local date-time at `offsetMinutes` east of UTC, with that offset (`Z` for 0). */
export function isoWithOffset(ms: number, offsetMinutes: number): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 23);
  if (offsetMinutes === 0) return `${local}Z`;
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${local}${offsetMinutes < 0 ? "-" : "+"}${hh}:${mm}`;
}

/** A property value that the line writer turns into a number JSON.parse cannot hold (`1e999`). */
export const NON_FINITE = "\u0000non-finite\u0000";

export function toSegmentCall(record: JsonObject): JsonObject {
  const endpoint = objectAt(record.endpoint);
  const user = objectAt(endpoint.User);
  const client = objectAt(record.client);
  const application = objectAt(record.application);
  const session = objectAt(record.session);
  const call: JsonObject = { type: "track" };
  if (record.event_type !== undefined) call.event = record.event_type;
  if (typeof user.UserId === "string") call.userId = user.UserId;
  call.anonymousId = (endpoint.Id ?? client.client_id ?? null) as Json;
  call.properties = { ...objectAt(record.attributes), ...objectAt(record.metrics) };
  call.context = {
    app: { namespace: (application.app_id ?? null) as Json },
    device: objectAt(record.device),
    library: { name: "analytics-node", version: "2.1.0" },
    session: (session.session_id ?? null) as Json,
  };
  const timestamp = record.event_timestamp;
  call.timestamp =
    typeof timestamp === "number"
      ? isoWithOffset(timestamp, offsetOf(String(call.anonymousId)))
      : (timestamp ?? null);
  if (typeof record.arrival_timestamp === "number") {
    call.sentAt = new Date(record.arrival_timestamp - 100).toISOString();
    call.receivedAt = new Date(record.arrival_timestamp).toISOString();
  }
  if (record.event_id !== undefined) call.messageId = String(record.event_id);
  return call;
}

/** The call's JSON line; a `NON_FINITE` property value is written as `1e999`. */
export function segmentLine(call: JsonObject): string {
  return JSON.stringify(call).replaceAll(JSON.stringify(NON_FINITE), "1e999");
}
