import type { NotificationMessage } from "@pia/aws";

/**
 * What a sink did with one message. `retry`: a transient failure (throttling, a timeout, a 5xx);
 * the message comes back from the queue later. `permanent`: it can never succeed as it is (a
 * refused payload, an unknown app); it goes to the dead-letter queue with `error`. Errors name the
 * problem, never user ids or values: they are logged and stored.
 */
export type DeliveryResult =
  | { readonly id: string; readonly status: "delivered" }
  | {
      readonly id: string;
      readonly status: "retry";
      readonly error: string;
      /**
       * Not tried (again) because the invocation's time would run out first: nothing is wrong with
       * the message, so it is handed back to the queue even on its last receive, never
       * dead-lettered by the notifier.
       */
      readonly deferred?: true;
    }
  | { readonly id: string; readonly status: "permanent"; readonly error: string };

/** What a sink must respect while delivering. */
export interface DeliverOptions {
  /**
   * Epoch ms (the sink's clock) by which `deliver` must have answered: the invocation's end minus
   * what the notifier needs afterwards. A sink starts no request that could not finish by then and
   * answers `retry` with `deferred` for what it left. Absent: no limit.
   */
  readonly deadline?: number;
}

/**
 * Where notifications go (file, Pinpoint, Customer Profiles, EventBridge, a webhook). A sink gets
 * the batch's messages, each id once, and answers one result per id, in any order; it may send
 * them in requests of its own size. Throwing stands for `retry` of the whole batch. A sink need not
 * be idempotent: the notifier skips ids it has delivered (see `Delivered`).
 */
export interface Sink {
  /** Short and stable (`file`, `pinpoint`): it is logged and stored with dead letters. */
  readonly name: string;
  deliver(batch: readonly NotificationMessage[], options?: DeliverOptions): Promise<DeliveryResult[]>;
}

/**
 * The notification ids a sink has applied, and how far each ordered stream (a rolling window's
 * (app, user, rule) state, `NotificationMessage.order`) has been delivered: the delivered table.
 */
export interface Delivered {
  /** Which of `ids` are recorded as delivered. Throws when it cannot tell. */
  has(ids: readonly string[]): Promise<Set<string>>;
  /** Records `ids` as delivered. Throws when some stay unrecorded. */
  mark(ids: readonly string[]): Promise<void>;
  /**
   * The high-water mark of each of `streams`: the largest `seq` delivered; a stream without one is
   * left out (nothing delivered yet, 0). Strongly consistent. Throws when it cannot tell.
   */
  highWater(streams: readonly string[]): Promise<Map<string, number>>;
  /**
   * Raises the mark of `stream` to `to`, never lowering it (a mark already at `to` or above stays).
   * Answers whether the mark was `from` (0: none) before: `false` means another delivery moved it
   * meanwhile. Throws when the write fails.
   */
  advance(stream: string, from: number, to: number): Promise<boolean>;
}

/** A message that can never succeed, with why. */
export interface DeadLetterInput {
  /** The SQS message id of the received message. */
  readonly messageId: string;
  /** Its body, unchanged, so that a redrive after a fix delivers it as first sent. */
  readonly body: string;
  /** `invalid_message` (the body is not a NotificationMessage) or `permanent` (a sink refused it). */
  readonly kind: "invalid_message" | "permanent" | "exhausted";
  /** The reason; never a user id or a value. */
  readonly reason: string;
  /** The sink that refused it, for `permanent`. */
  readonly sink?: string;
}

/**
 * Sends messages to the dead-letter queue. Returns the message ids it could not send (they are
 * retried with the batch); throws only when it sent none.
 */
export type DeadLetter = (letters: readonly DeadLetterInput[]) => Promise<{ readonly unsent: string[] }>;

/** The clock: epoch milliseconds. */
export type Now = () => number;

/** Structured logging: one port for every service, defined in @pia/aws. */
export type { Log } from "@pia/aws";
