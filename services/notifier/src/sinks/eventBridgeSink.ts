import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsCommandOutput,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import { type NotificationMessage, type RetryOptions, retryUnprocessed } from "@pia/aws";
import type { DeliveryResult, Sink } from "../ports.js";
import { describeSdkError, type SdkError } from "./sdkError.js";

/** Entries per PutEvents request (an EventBridge limit). */
export const PUT_EVENTS_LIMIT = 10;

/** Largest entry, and largest sum of the entries of one request, as EventBridge counts them. */
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** The `detail-type` of every event the sink puts. */
export const NOTIFICATION_DETAIL_TYPE = "pia.notification";

export interface EventBridgeSinkConfig extends RetryOptions {
  /** The bus name or ARN (`default` for the account's default bus). */
  readonly eventBusName: string;
  /** The events' `source` (default `pia`). */
  readonly source?: string;
}

/**
 * Per-entry error codes that say "later": the entry is sent again after a backoff, then answered
 * `retry`. Any other code (`MalformedDetail`, `AccessDeniedException`, …) is answered `permanent`.
 */
const TRANSIENT_ENTRY_ERRORS = new Set(["ThrottlingException", "InternalException", "InternalFailure"]);

/** Whole-request errors that say "slow down" or "try later" (their names, beyond 429 and 5xx). */
const TRANSIENT_REQUEST_ERRORS = new Set([
  "ThrottlingException",
  "InternalException",
  "InternalFailure",
  "ServiceUnavailable",
  "TimeoutError",
]);

/**
 * Transient: throttling, a 5xx, or an error without an AWS answer (a timeout, a reset connection).
 * Permanent: any other client fault (a missing bus, a refused permission, a validation error).
 */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  const sdk = error as SdkError;
  if (TRANSIENT_REQUEST_ERRORS.has(error.name) || sdk.$retryable !== undefined) return true;
  const status = sdk.$metadata?.httpStatusCode;
  if (status === 429 || (status !== undefined && status >= 500)) return true;
  return sdk.$fault !== "client" && (status === undefined || status < 400);
}

/** An entry's size as EventBridge counts it (PutEvents "event entry size"). */
function entrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  for (const text of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (text !== undefined) size += Buffer.byteLength(text, "utf8");
  }
  return size;
}

interface Pending {
  readonly id: string;
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
}

/** `pending` in requests of at most 10 entries and 256 KB. */
function requests(pending: readonly Pending[]): Pending[][] {
  const out: Pending[][] = [];
  let current: Pending[] = [];
  let bytes = 0;
  for (const item of pending) {
    if (
      current.length >= PUT_EVENTS_LIMIT ||
      (current.length > 0 && bytes + item.size > PUT_EVENTS_MAX_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * Puts one EventBridge event per notification on `eventBusName` with PutEvents, up to 10 entries
 * (and 256 KB) per request. The events, for rules and archives to match on:
 *
 * - `source`: `config.source`, default `pia`
 * - `detail-type`: `pia.notification`
 * - `time`: the notification's `at` (the firing event's time, or the window's close)
 * - `detail`: the notification (docs/rules.md section 5) and its id, as JSON:
 *   `{"appId","userId","ruleId","type":"attribute"|"event","name","value"?,"at","endpointId"?,"id"}`;
 *   `id` is the same for every send of one firing, so consumers can drop duplicates with it.
 *
 * Entries that fail with `ThrottlingException`, `InternalException` or `InternalFailure`, and
 * requests that fail with throttling or a 5xx, are sent again after exponential backoff with full
 * jitter, at most `maxAttempts` requests per chunk, then answered `retry`; only the entries still
 * failing are sent again, so an event put once is not put twice by the sink. Any other entry error
 * and any other client fault of the request are `permanent`, as is an entry over 256 KB. Errors
 * carry AWS error codes and HTTP statuses only, never the user id or AWS's message (it may echo the
 * event).
 */
export function buildEventBridgeSink(client: EventBridgeClient, config: EventBridgeSinkConfig): Sink {
  const source = config.source ?? "pia";
  const concurrency = Math.max(1, config.concurrency ?? 4);

  function toPending({ id, notification }: NotificationMessage): Pending {
    const entry: PutEventsRequestEntry = {
      EventBusName: config.eventBusName,
      Source: source,
      DetailType: NOTIFICATION_DETAIL_TYPE,
      Detail: JSON.stringify({ ...notification, id }),
      Time: new Date(notification.at),
    };
    return { id, entry, size: entrySize(entry) };
  }

  async function sendRequest(
    chunkItems: readonly Pending[],
    results: Map<string, DeliveryResult>,
  ): Promise<void> {
    // The last transient reason of each entry still pending, for its `retry` answer.
    const reasons = new Map<string, string>();
    const left = await retryUnprocessed(
      chunkItems,
      async (pending) => {
        let output: PutEventsCommandOutput;
        try {
          output = await client.send(new PutEventsCommand({ Entries: pending.map(({ entry }) => entry) }));
        } catch (error: unknown) {
          const reason = `EventBridge PutEvents failed: ${describeSdkError(error)}`;
          if (!isTransient(error)) {
            for (const { id } of pending) results.set(id, { id, status: "permanent", error: reason });
            return [];
          }
          for (const { id } of pending) reasons.set(id, reason);
          return pending;
        }
        const again: Pending[] = [];
        pending.forEach((item, index) => {
          const answer = output.Entries?.[index];
          if (answer === undefined) {
            // No answer for the entry: it may or may not be on the bus; sending it again is safe.
            reasons.set(item.id, "EventBridge PutEvents answered no result for the entry");
            again.push(item);
          } else if (answer.ErrorCode === undefined || answer.ErrorCode === "") {
            results.set(item.id, { id: item.id, status: "delivered" });
          } else if (TRANSIENT_ENTRY_ERRORS.has(answer.ErrorCode)) {
            reasons.set(item.id, `EventBridge refused the entry for now: ${answer.ErrorCode}`);
            again.push(item);
          } else {
            const error = `EventBridge refused the entry: ${answer.ErrorCode}`;
            results.set(item.id, { id: item.id, status: "permanent", error });
          }
        });
        return again;
      },
      config,
    );
    for (const { id } of left) {
      const error = `${reasons.get(id) ?? "EventBridge PutEvents did not succeed"}; retries exhausted`;
      results.set(id, { id, status: "retry", error });
    }
  }

  return {
    name: "eventbridge",
    async deliver(batch) {
      const results = new Map<string, DeliveryResult>();
      const sendable: Pending[] = [];
      for (const message of batch) {
        const pending = toPending(message);
        if (pending.size > PUT_EVENTS_MAX_BYTES) {
          const error = `the event is ${pending.size} bytes, over EventBridge's ${PUT_EVENTS_MAX_BYTES}`;
          results.set(message.id, { id: message.id, status: "permanent", error });
        } else {
          sendable.push(pending);
        }
      }
      const chunks = requests(sendable);
      let next = 0;
      const worker = async (): Promise<void> => {
        for (let index = next++; index < chunks.length; index = next++) {
          const items = chunks[index];
          if (items !== undefined) await sendRequest(items, results);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
      return batch.map(
        ({ id }) =>
          results.get(id) ?? { id, status: "retry", error: "EventBridge sink lost the entry's result" },
      );
    },
  };
}
