import type { Notification, SinkName } from "@pia/core";
import { SINK_NAMES } from "@pia/core";

/**
 * The body of one message of the notifications queue (`QUEUES.notifications`): written by the
 * deciders (aggregate, timeseries), read by the notifier.
 */
export interface NotificationMessage {
  /**
   * The same for every send of one firing (a decider's retry sends the same id again), different
   * for two firings (a reset rule firing anew gets a new one). The notifier records it as delivered
   * and skips a message whose id it has delivered: it is the idempotency key of the sinks.
   */
  readonly id: string;
  readonly notification: Notification;
  /** The rule's own sink (`action.sink`); absent: the stage's default sink. */
  readonly sink?: SinkName;
  /**
   * Rolling windows only: the (app, user, rule) state this notification belongs to (`stream`, an
   * opaque id, new for each life of a state: a rule removed and pushed again starts a new stream)
   * and its position in it (`seq`, equal to `notification.seq`). The notifier delivers a stream's
   * notifications in `seq` order and never an older one after a newer one.
   */
  readonly order?: { readonly stream: string; readonly seq: number };
}

/**
 * Largest `id`, UTF-8 bytes. The id is the delivered table's partition key (DynamoDB allows 2048
 * bytes); a decider with a longer identity hashes it (e.g. SHA-256, hex).
 */
export const MAX_NOTIFICATION_ID_BYTES = 1024;

/**
 * A body that is not a `NotificationMessage`. Permanent: the same body fails the same way on every
 * receive, so it goes to the dead-letter queue instead of being retried. The message names the
 * field and the check, never a value (values carry user ids).
 */
export class InvalidNotificationMessageError extends Error {
  override readonly name = "InvalidNotificationMessageError";
  readonly permanent = true;
  constructor(
    /** Path of the field at fault (`notification.at`), or `body` for the whole text. */
    readonly field: string,
    readonly reason: string,
    options?: { cause: unknown },
  ) {
    super(
      `notification message: ${field} ${reason}; messages must be written by toMessageBody (@pia/aws)`,
      options,
    );
  }
}

const ISO_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

type Fields = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(fields: Fields, name: string, path: string): string {
  const value = fields[name];
  if (typeof value !== "string" || value === "") {
    throw new InvalidNotificationMessageError(path, "is not a non-empty string");
  }
  return value;
}

function readId(fields: Fields): string {
  const id = text(fields, "id", "id");
  const bytes = Buffer.byteLength(id, "utf8");
  if (bytes > MAX_NOTIFICATION_ID_BYTES) {
    throw new InvalidNotificationMessageError(
      "id",
      `is ${bytes} bytes, over ${MAX_NOTIFICATION_ID_BYTES} (hash longer identities)`,
    );
  }
  return id;
}

function readAt(fields: Fields): string {
  const at = text(fields, "at", "notification.at");
  if (!ISO_UTC_MS.test(at) || Number.isNaN(Date.parse(at)) || new Date(at).toISOString() !== at) {
    throw new InvalidNotificationMessageError(
      "notification.at",
      "is not an ISO 8601 UTC instant with milliseconds (2021-01-31T23:59:59.999Z)",
    );
  }
  return at;
}

/**
 * Checks a notification and copies exactly its known fields, in the contract's order (docs/rules.md
 * section 5). Unknown fields are dropped: the notifier passes on only what the type describes.
 */
function readNotification(value: unknown): Notification {
  if (!isObject(value)) throw new InvalidNotificationMessageError("notification", "is not an object");
  // The app id may be empty: an event without `application.app_id` or `endpoint.ApplicationId`.
  if (typeof value.appId !== "string") {
    throw new InvalidNotificationMessageError("notification.appId", "is not a string");
  }
  const appId = value.appId;
  const userId = text(value, "userId", "notification.userId");
  const ruleId = text(value, "ruleId", "notification.ruleId");
  const type = value.type;
  if (type !== "attribute" && type !== "event") {
    throw new InvalidNotificationMessageError("notification.type", 'is not "attribute" or "event"');
  }
  const name = text(value, "name", "notification.name");
  let attributeValue: { value: string } | undefined;
  if (type === "attribute") {
    if (typeof value.value !== "string") {
      throw new InvalidNotificationMessageError(
        "notification.value",
        "is not a string (attributes need one)",
      );
    }
    attributeValue = { value: value.value };
  } else if (value.value !== undefined) {
    throw new InvalidNotificationMessageError(
      "notification.value",
      "is set on an event (only attributes have one)",
    );
  }
  const at = readAt(value);
  const seq = value.seq === undefined ? {} : { seq: positiveInteger(value.seq, "notification.seq") };
  const endpoint =
    value.endpointId === undefined
      ? {}
      : { endpointId: text(value, "endpointId", "notification.endpointId") };
  return { appId, userId, ruleId, type, name, ...attributeValue, at, ...seq, ...endpoint };
}

function positiveInteger(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidNotificationMessageError(path, "is not a whole number >= 1");
  }
  return value;
}

function readOrder(value: unknown, notification: Notification): Pick<NotificationMessage, "order"> {
  if (value === undefined) {
    if (notification.seq !== undefined) {
      throw new InvalidNotificationMessageError("order", "is missing on a notification with a seq");
    }
    return {};
  }
  if (!isObject(value)) throw new InvalidNotificationMessageError("order", "is not an object");
  const stream = text(value, "stream", "order.stream");
  const bytes = Buffer.byteLength(stream, "utf8");
  if (bytes > MAX_NOTIFICATION_ID_BYTES) {
    throw new InvalidNotificationMessageError(
      "order.stream",
      `is ${bytes} bytes, over ${MAX_NOTIFICATION_ID_BYTES}`,
    );
  }
  const seq = positiveInteger(value.seq, "order.seq");
  if (notification.seq !== seq) {
    throw new InvalidNotificationMessageError("order.seq", "differs from notification.seq");
  }
  return { order: { stream, seq } };
}

function readSink(value: unknown): { sink?: SinkName } {
  if (value === undefined) return {};
  if (typeof value !== "string" || !(SINK_NAMES as readonly string[]).includes(value)) {
    throw new InvalidNotificationMessageError("sink", `is not one of ${SINK_NAMES.join(", ")}`);
  }
  return { sink: value as SinkName };
}

function readMessage(value: unknown): NotificationMessage {
  if (!isObject(value)) throw new InvalidNotificationMessageError("body", "is not a JSON object");
  const notification = readNotification(value.notification);
  return {
    id: readId(value),
    notification,
    ...readSink(value.sink),
    ...readOrder(value.order, notification),
  };
}

/**
 * The body of a message. Checks the message as `parseMessageBody` does, so a decider's bug throws
 * `InvalidNotificationMessageError` at the sender instead of reaching the dead-letter queue.
 */
export function toMessageBody(message: NotificationMessage): string {
  return JSON.stringify(readMessage(message));
}

/** The message a body holds; throws `InvalidNotificationMessageError` naming the field at fault. */
export function parseMessageBody(body: string): NotificationMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error: unknown) {
    throw new InvalidNotificationMessageError("body", "is not valid JSON", { cause: error });
  }
  return readMessage(value);
}

/** Entries per SendMessageBatch request (an SQS limit). */
export const SEND_BATCH_LIMIT = 10;

/**
 * The `Id` of the `index`-th entry of a SendMessageBatch request. SQS wants at most 80 characters
 * of `[A-Za-z0-9_-]`, unique within the request: a notification id may be neither, so entries are
 * numbered and results mapped back by number (`batchEntryIndex`).
 */
export function batchEntryId(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`batch entry index ${index} is not a whole number >= 0`);
  }
  return `m${index}`;
}

/** The index `batchEntryId` made `id` from, or `undefined` for any other text. */
export function batchEntryIndex(id: string): number | undefined {
  const match = /^m(0|[1-9]\d{0,14})$/.exec(id);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
