import type { PiaEvent } from "@pia/core";

/**
 * An applied event as the events table stores it (`TABLES.events`): written by ingest, read back by
 * aggregate from the table's stream and by backfill queries. `fromEventItem(toEventItem(e))` is `e`.
 * An item is written once: ingest puts it only if no item has its key (a conditional put), so the
 * first write wins, a redelivered event writes nothing, and the stream carries each event once,
 * with the content aggregate counted (with the same identity the first record wins, docs/rules.md).
 */
export interface EventItem {
  /** `userKey(appId, userId)`: a user's events share one partition (and one stream shard). */
  readonly pk: string;
  /** The event identity: a redelivered event has the same key, so it finds its item and writes nothing. */
  readonly sk: string;
  readonly appId: string;
  readonly userId: string;
  readonly endpointId?: string;
  readonly eventType: string;
  /** `event_timestamp`, epoch milliseconds. */
  readonly ts: number;
  /** The string attributes as a DynamoDB map; absent when there are none or `attributesJson` holds them. */
  readonly attributes?: Readonly<Record<string, string>>;
  /**
   * The attributes as a JSON object text, used only when a name cannot be a map key: DynamoDB
   * rejects an empty name (for the whole batch), and the SDK's marshalling loses `__proto__`.
   */
  readonly attributesJson?: string;
  /**
   * The metrics as the JSON text of their entries (`[["price","129.99"]]`): a map would lose the
   * order (the first metric is what CSV rules sum) and a number attribute the exact decimal text.
   */
  readonly metrics: string;
  /** TTL, epoch seconds. */
  readonly expiresAt: number;
  /**
   * `typeDayKey(eventType, eventDay(ts))`, the key of the sparse `byTypeDay` index; written only
   * when the stage keeps that index (ingest's PREVIEW_INDEX), and never read back as event data.
   */
  readonly typeDay?: string;
  /**
   * When the item was first stored, epoch milliseconds: the clock of the ingest invocation that
   * wrote it. Never changes once written (a redelivery writes nothing), so the live path (the
   * stream) and a backfill (querying the table) see the same value: the boundary of their handover.
   * Absent on items stored before ingest wrote it. Storage, not event data: `fromEventItem` ignores it.
   */
  readonly arrivedAt?: number;
}

/** How `toEventItem` writes an item. */
export interface EventItemOptions {
  /** Adds `typeDay`, which puts the item in the events table's `byTypeDay` index (one more write unit). */
  readonly typeDay?: boolean;
  /** Writes `arrivedAt`, the time of this first write (epoch ms). */
  readonly arrivedAt?: number;
}

/** A stored item that is not an `EventItem` (a foreign writer, or a change to this mapping). */
export class InvalidEventItemError extends Error {
  override readonly name = "InvalidEventItemError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(
      `events table item: ${field} ${problem}; items must be written by toEventItem (@pia/aws), delete or rewrite this one`,
    );
  }
}

/**
 * The partition key of a user: `<appId length>:<appId>#<userId>`. The length prefix keeps it
 * unambiguous when ids contain `#` (`a#b` + `c` and `a` + `b#c` differ).
 */
export function userKey(appId: string, userId: string): string {
  return `${appId.length}:${appId}#${userId}`;
}

/**
 * The UTC day of an epoch-ms time, `YYYY-MM-DD` (the day a window rule compares; a year past 9999
 * keeps the sign and six digits of ISO 8601's expanded years, and is never a window's day).
 */
export function eventDay(timestamp: number): string {
  const iso = new Date(timestamp).toISOString();
  return iso.slice(0, iso.indexOf("T"));
}

/**
 * The `byTypeDay` partition of an event type's events on a UTC day: `<eventType>#<YYYY-MM-DD>`.
 * Unambiguous although event types may contain `#`: the day is always the last 10 characters.
 */
export function typeDayKey(eventType: string, day: string): string {
  return `${eventType}#${day}`;
}

/** Attribute names that cannot be keys of a DynamoDB map written through the SDK. */
function isMapUnsafeName(name: string): boolean {
  return name === "" || name === "__proto__";
}

export function toEventItem(event: PiaEvent, expiresAt: number, options: EventItemOptions = {}): EventItem {
  const names = Object.keys(event.attributes);
  const attributes =
    names.length === 0
      ? {}
      : names.some(isMapUnsafeName)
        ? { attributesJson: JSON.stringify(event.attributes) }
        : { attributes: { ...event.attributes } };
  return {
    pk: userKey(event.appId, event.userId),
    sk: event.identity,
    appId: event.appId,
    userId: event.userId,
    ...(event.endpointId === undefined ? {} : { endpointId: event.endpointId }),
    eventType: event.eventType,
    ts: event.timestamp,
    ...attributes,
    metrics: JSON.stringify(event.metrics),
    expiresAt,
    ...(options.typeDay === true ? { typeDay: typeDayKey(event.eventType, eventDay(event.timestamp)) } : {}),
    ...(options.arrivedAt === undefined ? {} : { arrivedAt: options.arrivedAt }),
  };
}

/**
 * When a stored item (a plain object: a stream image, a queried item) was first written, epoch ms;
 * `undefined` for an item stored before ingest wrote the stamp. Throws when it is there but not a
 * whole number >= 0: a boundary read wrong would count events twice or not at all.
 */
export function arrivalOf(item: EventItem | Readonly<Record<string, unknown>>): number | undefined {
  const arrivedAt = (item as Readonly<Record<string, unknown>>).arrivedAt;
  if (arrivedAt === undefined) return undefined;
  if (typeof arrivedAt !== "number" || !Number.isSafeInteger(arrivedAt) || arrivedAt < 0) {
    throw new InvalidEventItemError("arrivedAt", "is not a whole number >= 0");
  }
  return arrivedAt;
}

function stringField(item: Readonly<Record<string, unknown>>, field: string): string {
  const value = item[field];
  if (typeof value !== "string") throw new InvalidEventItemError(field, "is not a string");
  return value;
}

function stringRecord(value: unknown, field: string): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidEventItemError(field, "is not an object");
  }
  const entries = Object.entries(value);
  // The name is not quoted in the error: names come from customer records.
  if (entries.some((entry) => typeof entry[1] !== "string")) {
    throw new InvalidEventItemError(field, "has a value that is not a string");
  }
  // `fromEntries` defines own properties, so even a `__proto__` attribute stays data.
  return Object.fromEntries(entries as Array<[string, string]>);
}

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    throw new InvalidEventItemError(field, `is not valid JSON (${(error as Error).message})`);
  }
}

function readAttributes(item: Readonly<Record<string, unknown>>): Record<string, string> {
  if (item.attributesJson !== undefined) {
    return stringRecord(parseJson(stringField(item, "attributesJson"), "attributesJson"), "attributesJson");
  }
  // No attributes are stored as no map: an empty map is the one value some readers (the SDK's
  // DynamoDB Streams client among them) do not give back as written.
  if (item.attributes === undefined) return {};
  return stringRecord(item.attributes, "attributes");
}

function readMetrics(item: Readonly<Record<string, unknown>>): Array<[string, string]> {
  const entries = parseJson(stringField(item, "metrics"), "metrics");
  if (!Array.isArray(entries)) throw new InvalidEventItemError("metrics", "is not a JSON array");
  for (const entry of entries) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== "string" ||
      typeof entry[1] !== "string"
    ) {
      throw new InvalidEventItemError("metrics", "has an entry that is not a [name, value] pair of strings");
    }
  }
  return entries as Array<[string, string]>;
}

/**
 * The event an item holds (a plain object, e.g. an unmarshalled stream image, or an item of the
 * `byTypeDay` index). `typeDay`, `expiresAt` and `arrivedAt` are storage, not event data: they are
 * not read (`arrivalOf` reads the last).
 */
export function fromEventItem(stored: EventItem | Readonly<Record<string, unknown>>): PiaEvent {
  const item = stored as Readonly<Record<string, unknown>>;
  const appId = stringField(item, "appId");
  const userId = stringField(item, "userId");
  if (stringField(item, "pk") !== userKey(appId, userId)) {
    throw new InvalidEventItemError("pk", "is not userKey(appId, userId)");
  }
  const identity = stringField(item, "sk");
  const eventType = stringField(item, "eventType");
  const timestamp = item.ts;
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new InvalidEventItemError("ts", "is not a whole number >= 0");
  }
  const attributes = readAttributes(item);
  const metrics = readMetrics(item);
  if (item.endpointId === undefined) {
    return { identity, appId, userId, eventType, timestamp, attributes, metrics };
  }
  const endpointId = stringField(item, "endpointId");
  return { identity, appId, userId, endpointId, eventType, timestamp, attributes, metrics };
}
