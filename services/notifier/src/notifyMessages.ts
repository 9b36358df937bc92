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

/**
 * What happened to a batch; every message lands in exactly one of `delivered`, `duplicate`,
 * `retry`, `superseded`, `held`, `permanent`, `exhausted`, `invalid`.
 */
export interface NotifyCounts {
  readonly messages: number;
  /** Delivered by the sink now. */
  readonly delivered: number;
  /** Already delivered (the delivered table), or another message of the batch has its id. */
  readonly duplicate: number;
  /** The sink asked for a retry: reported for redelivery. */
  readonly retry: number;
  /**
   * Ordered (rolling window) messages at or below their stream's high-water mark: a newer one was
   * delivered, so this one is acknowledged without delivering.
   */
  readonly superseded: number;
  /**
   * Ordered messages waiting for an earlier one of their stream (not delivered yet, or refused in
   * this batch): reported for redelivery, never dead-lettered by the notifier.
   */
  readonly held: number;
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
  /**
   * Of `delivered`: ordered messages delivered on their last receive although an earlier one of
   * their stream never was (it is in the dead-letter queue or lost).
   */
  readonly gapDelivered: number;
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

/** One stream's messages in a batch. */
interface StreamState {
  /** Its high-water mark in the delivered table, as last read or written. */
  mark: number;
  /** The largest seq the sink has (or is known to have had): the next one is `position + 1`. */
  position: number;
  /** Its messages still to deliver, by seq, each seq once, all above `position`. */
  queue: Parsed[];
  /** Its mark could not be read again after another invocation moved it: deliver no more of it. */
  stopped?: boolean;
}

type Settled = "delivered" | "final" | "again";

function seqOf({ message }: Parsed): number {
  return message.order?.seq ?? 0;
}

function toMessage({ message }: Parsed): NotificationMessage {
  return message;
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
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
 * - the rest go to the sink; delivered ids are then recorded in the delivered table, `retry`
 *   results are reported as item failures, `permanent` ones go to the dead-letter queue.
 *
 * Messages without `order` go in one call. Messages with one (rolling windows) are delivered in
 * `seq` order per stream, never an older after a newer, against the stream's high-water mark in the
 * delivered table (`Delivered.highWater`):
 * - at or below the mark (or below a delivered id of the batch): acknowledged, `superseded`;
 * - the next one (mark + 1) first, then the following, each stream's next in successive sink calls
 *   (two of one stream are never in one call: a sink may send a call's messages concurrently), the
 *   mark raised (`Delivered.advance`, never backwards) after each call, before the next;
 * - after a gap (the predecessor not in the batch, or refused now with `retry`): `held`, an item
 *   failure that the notifier never dead-letters; on the last receive of it or of a later one of
 *   its stream, delivered anyway, in order (`gapDelivered`, logged): the predecessor is then in the
 *   dead-letter queue or lost, and is `superseded` if it ever comes. Better late than never: the
 *   redrive policy would otherwise move it to the DLQ too.
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
 * (attributes, the file sink's own memory) absorb that. A crash re-delivers at most the ordered
 * message of each stream that was in flight: the marks of earlier calls are written.
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

    const orderedStreams = [
      ...new Set(
        firsts.flatMap(({ message }) => (message.order === undefined ? [] : [message.order.stream])),
      ),
    ];
    const [done, marks] = await Promise.all([
      delivered.has(firsts.map(({ message }) => message.id)),
      orderedStreams.length === 0 ? new Map<string, number>() : delivered.highWater(orderedStreams),
    ]);

    // Unordered messages go to the sink in the first call; each stream's, one per call, in seq order.
    const unordered: Parsed[] = [];
    const streams = new Map<string, StreamState>();
    let superseded = 0;
    for (const parsed of firsts) {
      const { order } = parsed.message;
      if (order === undefined) {
        if (done.has(parsed.message.id)) duplicate++;
        else unordered.push(parsed);
        continue;
      }
      let state = streams.get(order.stream);
      if (state === undefined) {
        const mark = marks.get(order.stream) ?? 0;
        state = { mark, position: mark, queue: [] };
        streams.set(order.stream, state);
      }
      if (done.has(parsed.message.id)) {
        // Delivered, so whatever came before it in the stream is older than what the sink has.
        duplicate++;
        state.position = Math.max(state.position, order.seq);
      } else {
        state.queue.push(parsed);
      }
    }
    for (const state of streams.values()) {
      const queue = [...state.queue].sort((a, b) => seqOf(a) - seqOf(b));
      state.queue = [];
      for (const parsed of queue) {
        const last = state.queue.at(-1);
        if (seqOf(parsed) <= state.position) superseded++;
        // Two ids for one position: the decider's bug; the first stands, as for one id twice.
        else if (last !== undefined && seqOf(last) === seqOf(parsed)) duplicate++;
        else state.queue.push(parsed);
      }
    }

    const deliveredIds: string[] = [];
    const deliveredByRule = new Map<string, number>();
    const failuresBySink = new Map<string, number>();
    const tally = (counts: Map<string, number>, key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
    const retry = new Set<string>();
    const retryReasons = new Set<string>();
    let permanent = 0;
    let exhausted = 0;
    let deferred = 0;

    /**
     * Books the sink's answer for one message: `delivered`, `final` (dead-lettered: it will not
     * come back) or `again` (reported for redelivery).
     */
    const settle = ({ input, message }: Parsed, result: DeliveryResult | undefined): Settled => {
      if (result?.status === "delivered") {
        deliveredIds.push(message.id);
        tally(deliveredByRule, message.notification.ruleId);
        return "delivered";
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
        return "again";
      }
      return result?.status === "retry" && result.deferred === true ? "again" : "final";
    };

    let gapDelivered = 0;
    let movedElsewhere = 0;
    let unadvanced = 0;
    const advanceErrors = new Set<string>();
    /** Raises the stream's mark to `seq`, just delivered. Never throws. */
    const advance = async (stream: string, state: StreamState, seq: number): Promise<void> => {
      try {
        const alone = await delivered.advance(stream, state.mark, seq);
        state.mark = seq;
        if (alone) return;
        // Another invocation moved the mark (a copy of a message received twice at once): the
        // rest of the stream is judged against the mark as it is now.
        movedElsewhere++;
        let now: number;
        try {
          now = (await delivered.highWater([stream])).get(stream) ?? 0;
        } catch {
          // The rest of the stream comes back, to be judged against the mark then.
          state.stopped = true;
          return;
        }
        state.mark = Math.max(seq, now);
        state.position = state.mark;
        const [stale, rest] = partition(state.queue, (queued) => seqOf(queued) <= state.position);
        superseded += stale.length;
        state.queue = rest;
      } catch (error: unknown) {
        // Delivered, and the stream goes on in this batch; a later batch may hold its next message
        // back as a gap (until its last receive) for want of the mark.
        unadvanced++;
        advanceErrors.add(describeError(error));
      }
    };
    for (let call = unordered; ; call = []) {
      // Each stream's next message: the one after its position; after a gap, only when it or a
      // later one of the stream is on its last receive (what is missing is then in the dead-letter
      // queue or lost, or would come too late: better late than never, and still in order).
      const picks: Array<{ state: StreamState; parsed: Parsed; gap: boolean }> = [];
      for (const state of streams.values()) {
        const next = state.queue[0];
        if (next === undefined || state.stopped === true) continue;
        const gap = seqOf(next) !== state.position + 1;
        if (gap && !state.queue.some(({ input }) => (input.receiveCount ?? 0) >= maxReceives)) continue;
        picks.push({ state, parsed: next, gap });
        state.queue.shift();
      }
      if (call.length === 0 && picks.length === 0) break;
      const results = await deliverAll(
        sink,
        [...call, ...picks.map(({ parsed }) => parsed)].map(toMessage),
        options,
      );
      for (const parsed of call) settle(parsed, results.get(parsed.message.id));
      const advances: Array<Promise<void>> = [];
      for (const { state, parsed, gap } of picks) {
        const settled = settle(parsed, results.get(parsed.message.id));
        const seq = seqOf(parsed);
        // A dead-lettered message will not come back: the rest of the batch's stream goes on after
        // it. The mark stays (it counts deliveries), so a later message of the stream not in this
        // batch waits as a gap, and a redrive of this one is delivered if nothing newer was.
        if (settled === "final") state.position = seq;
        if (settled !== "delivered") continue;
        if (gap) gapDelivered++;
        state.position = seq;
        advances.push(advance(parsed.message.order?.stream ?? "", state, seq));
      }
      await Promise.all(advances);
    }
    // What is left waits for a predecessor (not in the batch, or refused now): back to the queue.
    const held = new Set<string>();
    for (const state of streams.values()) for (const { input } of state.queue) held.add(input.messageId);

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
    if (held.size > 0) {
      log.info("notifications wait for an earlier one of their stream; they are reported for redelivery", {
        messages: held.size,
      });
    }
    if (gapDelivered > 0) {
      log.warn(
        "notifications were delivered on their last receive although an earlier one of their stream never was (it is in the dead-letter queue or lost)",
        { sink: sink.name, messages: gapDelivered, maxReceives },
      );
    }
    if (movedElsewhere > 0) {
      log.warn("another invocation delivered messages of the same streams at the same time", {
        streams: movedElsewhere,
      });
    }
    if (unadvanced > 0) {
      log.error(
        "delivered notifications' stream positions could not be recorded; the next ones of those streams may wait until their last receive",
        { notifications: unadvanced, errors: [...advanceErrors].slice(0, MAX_LOGGED_REASONS) },
      );
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
      .filter(({ messageId }) => retry.has(messageId) || held.has(messageId) || unsent.has(messageId))
      .map(({ messageId }) => ({ itemIdentifier: messageId }));
    return {
      batchItemFailures,
      counts: {
        messages: inputs.length,
        delivered: deliveredIds.length,
        duplicate,
        retry: retry.size,
        superseded,
        held: held.size,
        permanent,
        exhausted,
        invalid: invalid.length,
        deadLetterFailed: unsent.size,
        unmarked,
        gapDelivered,
      },
      deliveredByRule,
      failuresBySink,
    };
  };
}
