import { InvalidNotificationMessageError, type NotificationMessage, parseMessageBody } from "@pia/aws";
import type {
  DeadLetter,
  DeadLetterInput,
  Delivered,
  DeliverOptions,
  DeliveryResult,
  Log,
  Sink,
} from "./ports.js";

/** One SQS message. */
export interface NotifyInput {
  readonly messageId: string;
  readonly body: string;
  /** SQS `ApproximateReceiveCount`: this receive's number, 1 for the first. */
  readonly receiveCount?: number;
}

/** What happened to a batch; every message lands in exactly one of the first five counts. */
export interface NotifyCounts {
  readonly messages: number;
  /** Delivered by the sink now. */
  readonly delivered: number;
  /** Already delivered (the delivered table), or another message of the batch has its id. */
  readonly duplicate: number;
  /** The sink asked for a retry: reported for redelivery. */
  readonly retry: number;
  /** Refused by the sink for good: sent to the dead-letter queue. */
  readonly permanent: number;
  /** Still failing on the queue's last receive: sent to the dead-letter queue with the last error. */
  readonly exhausted: number;
  /** Not a notification message: sent to the dead-letter queue. */
  readonly invalid: number;
  /** Dead letters SQS did not take: reported for redelivery instead. */
  readonly deadLetterFailed: number;
  /** Delivered, but not recorded in the delivered table (a redelivery would deliver them again). */
  readonly unmarked: number;
}

export interface NotifyResult {
  /** Messages to redeliver (SQS `ReportBatchItemFailures`), in input order. */
  readonly batchItemFailures: Array<{ itemIdentifier: string }>;
  readonly counts: NotifyCounts;
  /** Notifications delivered now, by rule id (for metrics). */
  readonly deliveredByRule: ReadonlyMap<string, number>;
  /** Messages a sink failed (retry, permanent or exhausted), by the sink they were meant for. */
  readonly failuresBySink: ReadonlyMap<string, number>;
}

export interface NotifyDeps {
  readonly sink: Sink;
  readonly delivered: Delivered;
  readonly deadLetter: DeadLetter;
  readonly log: Log;
  /**
   * The queue's `maxReceiveCount` (default 5): on its last receive, a message the sink still asks
   * to retry goes to the dead-letter queue itself, with the sink's last error, instead of being
   * moved there by SQS without a reason.
   */
  readonly maxReceives?: number;
}

interface Parsed {
  readonly input: NotifyInput;
  readonly message: NotificationMessage;
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The sink's answer for every id it was given; an id it left out is retried. */
async function deliverAll(
  sink: Sink,
  batch: readonly NotificationMessage[],
  options: DeliverOptions,
): Promise<Map<string, DeliveryResult>> {
  const results = new Map<string, DeliveryResult>();
  if (batch.length === 0) return results;
  try {
    for (const result of await sink.deliver(batch, options)) results.set(result.id, result);
  } catch (error: unknown) {
    // The name only: a thrown error's message is not the sink's own text and may quote a user id.
    const name = error instanceof Error ? error.name : typeof error;
    for (const { id } of batch) {
      results.set(id, { id, status: "retry", error: `the ${sink.name} sink threw ${name}` });
    }
  }
  for (const { id } of batch) {
    if (!results.has(id)) {
      results.set(id, { id, status: "retry", error: `the ${sink.name} sink gave no result` });
    }
  }
  return results;
}

/** At most this many distinct retry reasons are logged per batch. */
const MAX_LOGGED_REASONS = 5;

/**
 * Delivers a batch of SQS messages through the sink, once per notification id:
 * - a body that is not a `NotificationMessage` goes to the dead-letter queue with the reason
 *   (it would fail the same way on every receive);
 * - ids already in the delivered table, and ids an earlier message of the batch has, are
 *   acknowledged without delivering;
 * - the rest go to the sink in one call; delivered ids are then recorded in the delivered table,
 *   `retry` results are reported as item failures, `permanent` ones go to the dead-letter queue.
 *
 * With a `deadline`, the sink starts nothing it could not finish by then and hands back what it
 * left (`deferred`): those are reported as item failures, even on the last receive, since nothing
 * is wrong with them (after `maxReceiveCount` receives the queue's redrive policy still applies).
 *
 * Only a failed read of the delivered table throws (before anything was delivered), which fails the
 * batch as a whole. A failed mark is logged and not retried: the notification was delivered, and a
 * redelivery would deliver it again for sure. A dead letter SQS refuses is reported as an item
 * failure, so it reaches the dead-letter queue by the redrive policy after maxReceiveCount receives.
 *
 * The effect is at least once: a crash between delivering and marking, or two copies of one message
 * received by two invocations at the same moment, deliver twice; sinks whose effect is a set
 * (attributes, the file sink's own memory) absorb that.
 */
export function makeNotifyMessages(
  deps: NotifyDeps,
): (inputs: readonly NotifyInput[], options?: DeliverOptions) => Promise<NotifyResult> {
  const { sink, delivered, deadLetter, log } = deps;
  const maxReceives = deps.maxReceives ?? 5;

  return async function notifyMessages(inputs, options = {}) {
    const letters: DeadLetterInput[] = [];
    const invalid: Array<{ messageId: string; field: string; reason: string }> = [];
    const firsts: Parsed[] = [];
    const seenIds = new Set<string>();
    let duplicate = 0;

    for (const input of inputs) {
      let message: NotificationMessage;
      try {
        message = parseMessageBody(input.body);
      } catch (error: unknown) {
        if (!(error instanceof InvalidNotificationMessageError)) throw error;
        invalid.push({ messageId: input.messageId, field: error.field, reason: error.reason });
        letters.push({
          messageId: input.messageId,
          body: input.body,
          kind: "invalid_message",
          reason: error.message,
        });
        continue;
      }
      if (seenIds.has(message.id)) {
        // The same firing sent twice: the first message's outcome stands for both.
        duplicate++;
        continue;
      }
      seenIds.add(message.id);
      firsts.push({ input, message });
    }
    if (invalid.length > 0) {
      // Field names and checks only: the messages' values carry user ids.
      log.warn("invalid notification messages go to the dead-letter queue", { invalid });
    }

    const done = await delivered.has(firsts.map(({ message }) => message.id));
    const pending = firsts.filter(({ message }) => !done.has(message.id));
    duplicate += firsts.length - pending.length;

    const results = await deliverAll(
      sink,
      pending.map(({ message }) => message),
      options,
    );
    const deliveredIds: string[] = [];
    const deliveredByRule = new Map<string, number>();
    const failuresBySink = new Map<string, number>();
    const tally = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
    const retry = new Set<string>();
    const retryReasons = new Set<string>();
    let permanent = 0;
    let exhausted = 0;
    let deferred = 0;
    for (const { input, message } of pending) {
      const result = results.get(message.id);
      if (result?.status === "delivered") {
        deliveredIds.push(message.id);
        tally(deliveredByRule, message.notification.ruleId);
        continue;
      }
      // The routing sink delivers each message to the rule's own sink, or the stage's default.
      const target = message.sink ?? sink.name;
      tally(failuresBySink, target);
      if (result?.status === "permanent") {
        permanent++;
        letters.push({
          messageId: input.messageId,
          body: input.body,
          kind: "permanent",
          reason: result.error,
          sink: target,
        });
      } else if (result?.status === "retry" && result.deferred === true) {
        deferred++;
        retry.add(input.messageId);
      } else if ((input.receiveCount ?? 0) >= maxReceives) {
        exhausted++;
        letters.push({
          messageId: input.messageId,
          body: input.body,
          kind: "exhausted",
          reason: `still failing on receive ${input.receiveCount}: ${result?.error ?? `the ${target} sink gave no result`}`,
          sink: target,
        });
      } else {
        retry.add(input.messageId);
        if (result !== undefined && retryReasons.size < MAX_LOGGED_REASONS) retryReasons.add(result.error);
      }
    }
    if (retry.size > deferred) {
      log.warn("the sink asked to retry notifications; they are reported for redelivery", {
        sink: sink.name,
        messages: retry.size - deferred,
        reasons: [...retryReasons],
      });
    }
    if (deferred > 0) {
      log.warn("the invocation's time ran out before these notifications; they are reported for redelivery", {
        sink: sink.name,
        messages: deferred,
      });
    }

    let unmarked = 0;
    if (deliveredIds.length > 0) {
      try {
        await delivered.mark(deliveredIds);
      } catch (error: unknown) {
        unmarked = deliveredIds.length;
        log.error("delivered notifications could not be recorded; a redelivery would deliver them again", {
          notifications: unmarked,
          error: describeError(error),
        });
      }
    }

    const unsent = new Set<string>();
    if (letters.length > 0) {
      try {
        for (const messageId of (await deadLetter(letters)).unsent) unsent.add(messageId);
      } catch (error: unknown) {
        for (const { messageId } of letters) unsent.add(messageId);
        log.error("the dead-letter queue refused every message; they are reported for redelivery", {
          messages: letters.length,
          error: describeError(error),
        });
      }
      if (unsent.size > 0 && unsent.size < letters.length) {
        log.error("the dead-letter queue refused some messages; they are reported for redelivery", {
          messages: unsent.size,
        });
      }
    }

    const batchItemFailures = inputs
      .filter(({ messageId }) => retry.has(messageId) || unsent.has(messageId))
      .map(({ messageId }) => ({ itemIdentifier: messageId }));
    return {
      batchItemFailures,
      counts: {
        messages: inputs.length,
        delivered: deliveredIds.length,
        duplicate,
        retry: retry.size,
        permanent,
        exhausted,
        invalid: invalid.length,
        deadLetterFailed: unsent.size,
        unmarked,
      },
      deliveredByRule,
      failuresBySink,
    };
  };
}
