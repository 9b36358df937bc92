import { type NotificationMessage, toMessageBody } from "@pia/aws";
import type { Notification } from "@pia/core";
import type { NotifyInput } from "../src/notifyMessages.js";
import type { DeadLetter, DeadLetterInput, Delivered, DeliveryResult, Log, Sink } from "../src/ports.js";

type Json = Record<string, unknown>;

/** A notification of rule `ruleId` for `userId` (an attribute, as the contract's example). */
export function notification(userId: string, ruleId = "big-spender"): Notification {
  return {
    appId: "app-1",
    userId,
    ruleId,
    type: "attribute",
    name: "big_spender",
    value: "Ready",
    at: "2021-01-31T23:59:59.999Z",
    endpointId: `ep-${userId}`,
  };
}

export function message(id: string, userId = `user-${id}`): NotificationMessage {
  return { id, notification: notification(userId) };
}

/** An SQS message carrying notification `id`. */
export function input(messageId: string, id: string, userId?: string): NotifyInput {
  return { messageId, body: toMessageBody(message(id, userId)) };
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
 * A sink that keeps what it delivered; `answer` picks a result per message (delivered by default).
 */
export function fakeSink(
  answer: (message: NotificationMessage) => DeliveryResult = ({ id }) => ({ id, status: "delivered" }),
) {
  const delivered: NotificationMessage[] = [];
  const calls: Array<readonly NotificationMessage[]> = [];
  const sink: Sink = {
    name: "fake",
    deliver: async (batch) => {
      calls.push(batch);
      const results = batch.map(answer);
      for (const result of results) {
        if (result.status === "delivered") delivered.push(...batch.filter(({ id }) => id === result.id));
      }
      return results;
    },
  };
  return { sink, delivered, calls };
}

/** The delivered table in memory, ids and stream marks. */
export function fakeDelivered(initial: readonly string[] = [], initialMarks: Record<string, number> = {}) {
  const ids = new Set(initial);
  const marks = new Map(Object.entries(initialMarks));
  const hasCalls: Array<readonly string[]> = [];
  const markCalls: Array<readonly string[]> = [];
  const advanceCalls: Array<[stream: string, from: number, to: number]> = [];
  const delivered: Delivered = {
    has: async (asked) => {
      hasCalls.push(asked);
      return new Set(asked.filter((id) => ids.has(id)));
    },
    mark: async (marked) => {
      markCalls.push(marked);
      for (const id of marked) ids.add(id);
    },
    highWater: async (streams) =>
      new Map(streams.flatMap((stream) => (marks.has(stream) ? [[stream, marks.get(stream) ?? 0]] : []))),
    advance: async (stream, from, to) => {
      advanceCalls.push([stream, from, to]);
      const before = marks.get(stream) ?? 0;
      if (before < to) marks.set(stream, to);
      return before === from;
    },
  };
  return { delivered, ids, marks, hasCalls, markCalls, advanceCalls };
}

/** The dead-letter queue in memory; `refuse` picks letters SQS does not take. */
export function fakeDeadLetter(refuse: (letter: DeadLetterInput) => boolean = () => false) {
  const letters: DeadLetterInput[] = [];
  const deadLetter: DeadLetter = async (sent) => {
    const unsent = sent.filter(refuse).map(({ messageId }) => messageId);
    letters.push(...sent.filter((letter) => !refuse(letter)));
    return { unsent };
  };
  return { deadLetter, letters };
}

/** An event-action message, with an endpoint. */
export const EVENT: NotificationMessage = {
  id: "fire-e",
  notification: {
    appId: "app-1",
    userId: "user-2",
    ruleId: "viewer",
    type: "event",
    name: "trk_viewer",
    at: "2024-03-15T10:30:00.123Z",
    endpointId: "ep-2",
  },
};

/** A rolling window's exit: an attribute notification with `value: ""` (remove it), in order. */
export const EXIT: NotificationMessage = {
  id: "fire-x",
  notification: {
    appId: "app-1",
    userId: "user-3",
    ruleId: "active",
    type: "attribute",
    name: "active",
    value: "",
    at: "2024-03-15T10:30:00.123Z",
    seq: 2,
    endpointId: "ep-3",
  },
  order: { stream: "stream-3", seq: 2 },
};
