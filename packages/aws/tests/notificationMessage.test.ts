import { describe, expect, it } from "vitest";
import {
  batchEntryId,
  batchEntryIndex,
  InvalidNotificationMessageError,
  MAX_NOTIFICATION_ID_BYTES,
  type NotificationMessage,
  parseMessageBody,
  toMessageBody,
} from "../src/notificationMessage.js";

const ATTRIBUTE: NotificationMessage = {
  id: "fire-1",
  notification: {
    appId: "app-1",
    userId: "user-1",
    ruleId: "big-spender",
    type: "attribute",
    name: "big_spender",
    value: "Ready",
    at: "2021-01-31T23:59:59.999Z",
    endpointId: "ep-1",
  },
};

const EVENT: NotificationMessage = {
  id: "fire-2",
  notification: {
    appId: "app-1",
    userId: "user-1",
    ruleId: "viewer",
    type: "event",
    name: "trk_viewer",
    at: "2024-03-15T10:30:00.123Z",
  },
};

type Json = Record<string, unknown>;

function body(notification: Json, id: unknown = "fire-1"): string {
  return JSON.stringify({ id, notification: { ...ATTRIBUTE.notification, ...notification } });
}

function failure(text: string): InvalidNotificationMessageError {
  try {
    parseMessageBody(text);
  } catch (error: unknown) {
    if (error instanceof InvalidNotificationMessageError) return error;
    throw error;
  }
  throw new Error("parseMessageBody accepted an invalid body");
}

describe("toMessageBody and parseMessageBody", () => {
  it.each([
    ["an attribute", ATTRIBUTE],
    ["an event", EVENT],
    ["an empty app id", { ...EVENT, notification: { ...EVENT.notification, appId: "" } }],
  ])("round-trip %s", (_case, message) => {
    expect(parseMessageBody(toMessageBody(message))).toStrictEqual(message);
  });

  it("writes the id, then the notification's fields in the contract's order", () => {
    expect(toMessageBody(ATTRIBUTE)).toBe(
      '{"id":"fire-1","notification":{"appId":"app-1","userId":"user-1","ruleId":"big-spender","type":"attribute","name":"big_spender","value":"Ready","at":"2021-01-31T23:59:59.999Z","endpointId":"ep-1"}}',
    );
  });

  it("drops fields the contract does not know", () => {
    const parsed = parseMessageBody(
      JSON.stringify({ id: "x", extra: 1, notification: { ...EVENT.notification, campaign: "spring" } }),
    );
    expect(parsed).toStrictEqual({ ...EVENT, id: "x" });
  });

  it.each([
    ["not JSON", "{ nope", "body", /is not valid JSON/],
    ["an array", "[]", "body", /is not a JSON object/],
    ["no id", JSON.stringify({ notification: ATTRIBUTE.notification }), "id", /non-empty string/],
    ["an empty id", body({}, ""), "id", /non-empty string/],
    ["a numeric id", body({}, 7), "id", /non-empty string/],
    [
      "an id too long",
      body({}, "é".repeat(MAX_NOTIFICATION_ID_BYTES / 2 + 1)),
      "id",
      /is 1026 bytes, over 1024/,
    ],
    ["no notification", JSON.stringify({ id: "x" }), "notification", /is not an object/],
    ["an app id that is a number", body({ appId: 1 }), "notification.appId", /is not a string/],
    ["no user", body({ userId: undefined }), "notification.userId", /non-empty string/],
    ["an empty user", body({ userId: "" }), "notification.userId", /non-empty string/],
    ["no rule", body({ ruleId: null }), "notification.ruleId", /non-empty string/],
    ["an unknown type", body({ type: "segment" }), "notification.type", /"attribute" or "event"/],
    ["no name", body({ name: "" }), "notification.name", /non-empty string/],
    ["an attribute without value", body({ value: undefined }), "notification.value", /attributes need one/],
    [
      "an event with a value",
      body({ type: "event", name: "trk_x", value: "Ready" }),
      "notification.value",
      /only attributes/,
    ],
    ["a time without milliseconds", body({ at: "2021-01-31T23:59:59Z" }), "notification.at", /milliseconds/],
    ["a time with an offset", body({ at: "2021-01-31T23:59:59.999+01:00" }), "notification.at", /UTC/],
    ["an impossible date", body({ at: "2021-02-29T00:00:00.000Z" }), "notification.at", /ISO 8601/],
    ["epoch milliseconds", body({ at: 1612137599999 }), "notification.at", /non-empty string/],
    ["an empty endpoint", body({ endpointId: "" }), "notification.endpointId", /non-empty string/],
  ])("refuse %s, naming the field", (_case, text, field, reason) => {
    const error = failure(text);
    expect(error.field).toBe(field);
    expect(error.reason).toMatch(reason);
    expect(error.message).toContain(`notification message: ${field} `);
    expect(error.permanent).toBe(true);
  });

  it("never quotes a value in the error", () => {
    const error = failure(body({ userId: "secret-user", at: "secret-time" }));
    expect(error.message).not.toContain("secret");
  });

  it("keeps the JSON error as the cause", () => {
    expect(failure("{").cause).toBeInstanceOf(SyntaxError);
  });

  it("refuses to write an invalid message", () => {
    const invalid = { id: "", notification: EVENT.notification };
    expect(() => toMessageBody(invalid)).toThrow(InvalidNotificationMessageError);
  });
});

describe("batchEntryId", () => {
  it.each([0, 1, 9, 123])("numbers entry %i with an id SQS accepts and maps it back", (index) => {
    const id = batchEntryId(index);
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(batchEntryIndex(id)).toBe(index);
  });

  it.each([-1, 1.5, Number.NaN])("refuses index %s", (index) => {
    expect(() => batchEntryId(index)).toThrow(RangeError);
  });

  it.each(["", "m", "m01", "x1", "m1x", "fire-1"])("maps %j to no index", (id) => {
    expect(batchEntryIndex(id)).toBeUndefined();
  });
});

describe("the rule's sink", () => {
  it("travels with the message", () => {
    const routed: NotificationMessage = { ...EVENT, sink: "eventbridge" };
    expect(parseMessageBody(toMessageBody(routed))).toStrictEqual(routed);
  });

  it("must be a known sink", () => {
    const error = failure(JSON.stringify({ ...ATTRIBUTE, sink: "fax" }));
    expect(error.field).toBe("sink");
  });
});

describe("the order of a rolling window's notifications", () => {
  const EXIT: NotificationMessage = {
    id: "fire-3",
    notification: { ...ATTRIBUTE.notification, value: "", seq: 2 },
    order: { stream: "state-1", seq: 2 },
  };

  it("travels with the message, the notification's seq included", () => {
    expect(parseMessageBody(toMessageBody(EXIT))).toStrictEqual(EXIT);
  });

  it.each([
    ["a seq without an order", { ...EXIT, order: undefined }, "order"],
    ["an order whose seq differs", { ...EXIT, order: { stream: "state-1", seq: 3 } }, "order.seq"],
    ["a seq of 0", { ...EXIT, notification: { ...EXIT.notification, seq: 0 } }, "notification.seq"],
    ["a fractional seq", { ...EXIT, order: { stream: "state-1", seq: 1.5 } }, "order.seq"],
    ["an empty stream", { ...EXIT, order: { stream: "", seq: 2 } }, "order.stream"],
  ])("refuses %s", (_case, message, field) => {
    expect(failure(JSON.stringify(message)).field).toBe(field);
  });
});
