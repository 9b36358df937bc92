import type { EventItem } from "@pia/aws";
import type { IngestRecord } from "../src/ingestRecords.js";
import type { Log, WriteEvents, WriteQuarantine } from "../src/ports.js";
import type { QuarantineItem } from "../src/quarantineItem.js";

/** The fixed clock of the tests: 2024-03-15T10:30:00.123Z. */
export const NOW = Date.UTC(2024, 2, 15, 10, 30, 0, 123);

type Json = Record<string, unknown>;

/** A valid Pinpoint custom event (the shape of docs/examples/pinpoint-custom-event.json), with top-level fields replaced. */
export function pinpointEvent(fields: Json = {}): Json {
  return {
    event_type: "purchase",
    event_timestamp: Date.UTC(2024, 2, 14, 8, 0, 0),
    arrival_timestamp: Date.UTC(2024, 2, 14, 8, 0, 1),
    event_version: "3.1",
    application: { app_id: "app-1", sdk: { name: "aws-amplify" } },
    client: { client_id: "ep-1" },
    session: { session_id: "s-1", start_timestamp: Date.UTC(2024, 2, 14, 7, 0, 0) },
    attributes: { product: "chair", campaign: "spring" },
    metrics: { price: 129.99, quantity: 2 },
    endpoint: { Id: "ep-1", ApplicationId: "app-1", User: { UserId: "customer-1042" } },
    ...fields,
  };
}

export function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

/** A Kinesis record whose payload is `payload` as written, or as JSON when it is an object. */
export function record(sequenceNumber: string, payload: string | Json, arrivedAt?: number): IngestRecord {
  const data = base64(typeof payload === "string" ? payload : JSON.stringify(payload));
  return arrivedAt === undefined
    ? { sequenceNumber, data }
    : { sequenceNumber, data, approximateArrivalTimestamp: arrivedAt };
}

/** Records every log call. */
export function recordingLog(): Log & { calls: Array<{ level: string; message: string; attributes: Json }> } {
  const calls: Array<{ level: string; message: string; attributes: Json }> = [];
  return {
    calls,
    info: (message, attributes) => calls.push({ level: "info", message, attributes }),
    warn: (message, attributes) => calls.push({ level: "warn", message, attributes }),
    error: (message, attributes) => calls.push({ level: "error", message, attributes }),
  };
}

/**
 * In-memory tables behind the write ports; `leaveUnprocessed` picks items that stay unwritten (as
 * if DynamoDB kept throttling them after every retry). Like the real events table, an event item
 * whose key is stored already is not rewritten but reported `alreadyStored` (first write wins).
 */
export function fakeTables(
  leaveUnprocessed: {
    events?: (item: EventItem) => boolean;
    quarantine?: (item: QuarantineItem) => boolean;
  } = {},
) {
  const events: EventItem[] = [];
  const quarantine: QuarantineItem[] = [];
  const eventCalls: Array<readonly EventItem[]> = [];
  const quarantineCalls: Array<readonly QuarantineItem[]> = [];
  const writeEvents: WriteEvents = async (items) => {
    eventCalls.push(items);
    const stored = (item: EventItem) => events.some(({ pk, sk }) => pk === item.pk && sk === item.sk);
    const alreadyStored = items.filter(stored);
    const unprocessed = items.filter(
      (item) => !alreadyStored.includes(item) && (leaveUnprocessed.events?.(item) ?? false),
    );
    events.push(...items.filter((item) => !unprocessed.includes(item) && !alreadyStored.includes(item)));
    // Copies: the caller must match them by key.
    return {
      unprocessed: unprocessed.map((item) => ({ ...item })),
      alreadyStored: alreadyStored.map((item) => ({ ...item })),
    };
  };
  const writeQuarantine: WriteQuarantine = async (items) => {
    quarantineCalls.push(items);
    const unprocessed = items.filter((item) => leaveUnprocessed.quarantine?.(item) ?? false);
    quarantine.push(...items.filter((item) => !unprocessed.includes(item)));
    return { unprocessed: unprocessed.map((item) => ({ ...item })) };
  };
  return { events, quarantine, eventCalls, quarantineCalls, writeEvents, writeQuarantine };
}
