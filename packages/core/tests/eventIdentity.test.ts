import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalDecimal, toDecimal } from "../src/decimal.js";
import type { PiaEvent } from "../src/event.js";
import { canonicalNumber, eventIdentity } from "../src/eventIdentity.js";
import { parseRecord } from "../src/parseRecord.js";

type Json = Record<string, unknown>;

function base(): Json {
  return {
    event_type: "purchase",
    event_timestamp: 1612345678901,
    arrival_timestamp: 1612345679350,
    application: { app_id: "app-1", sdk: { name: "aws-amplify" } },
    client: { client_id: "ep-1" },
    session: { session_id: "s-1", start_timestamp: 1612345600000 },
    attributes: { product: "chair", campaign: "spring" },
    metrics: { price: 129.99, quantity: 2 },
    endpoint: { Id: "ep-1", ApplicationId: "app-1", User: { UserId: "user-1" } },
  };
}

/** The base record with fields set by dotted path (`"session.session_id"`); `undefined` deletes. */
function modified(changes: Json): Json {
  const record = base();
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    const target = keys.reduce((object, key) => object[key] as Json, record);
    if (value === undefined) delete target[last];
    else target[last] = value;
  }
  return record;
}

/** The identity parseRecord gives a record serialized as written (key order included). */
function identityOfText(text: string): string {
  const outcome = parseRecord(text);
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(outcome)}`);
  return outcome.event.identity;
}

function identityOf(record: Json): string {
  return identityOfText(JSON.stringify(record));
}

const parts = (event: PiaEvent) => ({
  appId: event.appId,
  userId: event.userId,
  eventType: event.eventType,
  timestamp: event.timestamp,
  attributes: event.attributes,
  metrics: event.metrics,
});

describe("eventIdentity", () => {
  it("is a stable hash of the content (a change here breaks de-duplication across versions)", () => {
    // Length-prefixed fields: app, endpoint, user, event type, timestamp, session, then the
    // attribute count and sorted pairs (values tagged s = string), the metric count and sorted pairs.
    const serialized = [
      ...["5:app-1", "4:ep-1", "6:user-1", "8:purchase", "13:1612345678901", "3:s-1"],
      ...["1:2", "8:campaign", "s6:spring", "7:product", "s5:chair"],
      ...["1:2", "5:price", "6:129.99", "8:quantity", "1:2"],
    ].join("");
    const expected = `h:${createHash("sha256").update(serialized).digest().subarray(0, 16).toString("base64url")}`;
    expect(expected).toBe("h:2rAqRG8sDzXMcZPsWalpSg");
    expect(identityOf(base())).toBe(expected);
  });

  it.each<[string, unknown, string]>([
    ["a string", "evt-42", "id:evt-42"],
    ["a string that looks like a number, verbatim", "1.0", "id:1.0"],
    ["an integer", 1, "id:1"],
    ["a negative number", -12.5, "id:-12.5"],
    ["a large number", 1e21, "id:1000000000000000000000"],
  ])("uses an event_id that is %s", (_name, eventId, expected) => {
    expect(identityOf(modified({ event_id: eventId }))).toBe(expected);
  });

  it.each<[string, string]>([
    ["1.0", "id:1"],
    ["1e0", "id:1"],
    ["10E-1", "id:1"],
    ['"1"', "id:1"],
    ["12345678901234567890123", "id:12345678901234567890123"],
  ])("takes a numeric event_id by value: %s", (text, expected) => {
    expect(identityOfText(`{"event_id":${text},${JSON.stringify(base()).slice(1)}`)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ["empty", ""],
    ["null", null],
    ["a boolean", true],
    ["an object", { id: "x" }],
    ["an array", ["x"]],
  ])("hashes the content when event_id is %s", (_name, eventId) => {
    const identity = identityOf(modified({ event_id: eventId }));
    expect(identity).toBe(identityOf(base()));
  });

  it("reads a numeric event_id's exact text when the caller passes it", () => {
    const record = { ...base(), event_id: Number("12345678901234567") };
    const event = parseRecord(JSON.stringify(base()));
    if (event.kind !== "event") throw new Error("expected an event");
    expect(eventIdentity(record, parts(event.event), "12345678901234567")).toBe("id:12345678901234567");
    expect(eventIdentity(record, parts(event.event))).toBe("id:12345678901234568");
    expect(eventIdentity(record, parts(event.event), "0x10")).toBe("id:12345678901234568");
  });

  it.each<[string, Json]>([
    ["arrival_timestamp", { arrival_timestamp: 1 }],
    ["no arrival_timestamp", { arrival_timestamp: undefined }],
    ["event_version and other fields", { event_version: "9", awsAccountId: "1" }],
    ["client.client_id", { "client.client_id": "other" }],
    ["session.start_timestamp", { "session.start_timestamp": 5 }],
    ["endpoint.ApplicationId", { "endpoint.ApplicationId": "other" }],
    ["a metric written 1.0 instead of 1", { metrics: { price: 129.99, quantity: 2.0 } }],
    ["the order of attributes", { attributes: { campaign: "spring", product: "chair" } }],
    ["the order of metrics", { metrics: { quantity: 2, price: 129.99 } }],
  ])("does not depend on %s", (_name, change) => {
    expect(identityOf(modified(change))).toBe(identityOf(base()));
  });

  it("does not depend on the order of keys anywhere in the record", () => {
    const reversed = (value: unknown): unknown =>
      value !== null && typeof value === "object" && !Array.isArray(value)
        ? Object.fromEntries(
            Object.entries(value)
              .reverse()
              .map(([k, v]) => [k, reversed(v)]),
          )
        : value;
    const record = modified({ attributes: { b: "1", a: { y: 1, x: [2, 3] }, c: 4 } });
    expect(JSON.stringify(reversed(record))).not.toBe(JSON.stringify(record));
    expect(identityOf(reversed(record) as Json)).toBe(identityOf(record));
  });

  it("treats metrics 1 and 1.0 and 1e0 as the same value", () => {
    const text = (value: string) => JSON.stringify(base()).replace('"quantity":2', `"quantity":${value}`);
    expect(text("1.0")).toContain('"quantity":1.0');
    expect(identityOfText(text("1.0"))).toBe(identityOfText(text("1")));
    expect(identityOfText(text("1e0"))).toBe(identityOfText(text("1")));
    expect(identityOfText(text("1.0000000000000000000001"))).not.toBe(identityOfText(text("1")));
  });

  it.each<[string, Json]>([
    ["application.app_id", { "application.app_id": "app-2" }],
    ["application.app_id missing (endpoint.ApplicationId is still app-1)", { application: undefined }],
    ["endpoint.Id", { "endpoint.Id": "ep-2" }],
    ["the user", { "endpoint.User.UserId": "user-2" }],
    ["event_type", { event_type: "purchase2" }],
    ["event_timestamp", { event_timestamp: 1612345678902 }],
    ["session.session_id", { "session.session_id": "s-2" }],
    ["no session", { session: undefined }],
    ["an attribute value", { "attributes.product": "table" }],
    ["an attribute name", { attributes: { product2: "chair", campaign: "spring" } }],
    ["an extra attribute", { "attributes.x": "" }],
    ["a non-string attribute", { "attributes.n": 1 }],
    ["a metric value", { "metrics.price": 129.98 }],
    ["a metric name", { metrics: { price2: 129.99, quantity: 2 } }],
    ["a missing metric", { "metrics.quantity": undefined }],
  ])("changes with %s", (_name, change) => {
    expect(identityOf(modified(change))).not.toBe(identityOf(base()));
  });

  it.each<[string, unknown, unknown]>([
    ["number and string", 1, "1"],
    ["two numbers", 1, 2],
    ["true and the string true", true, "true"],
    ["null and the string null", null, "null"],
    ["object values", { a: 1 }, { a: 2 }],
    ["a string and the JSON of an array", ["x"], '["x"]'],
  ])("tells attribute values apart: %s", (_name, a, b) => {
    const withValue = (value: unknown) => identityOf(modified({ "attributes.v": value }));
    expect(withValue(a)).not.toBe(withValue(b));
  });

  it("hashes non-string attributes that parseRecord leaves out of event.attributes", () => {
    const record = modified({ "attributes.n": 1 });
    const outcome = parseRecord(JSON.stringify(record));
    if (outcome.kind !== "event") throw new Error("expected an event");
    expect(outcome.event.attributes).toEqual({ product: "chair", campaign: "spring" });
    const onlyStrings = modified({});
    expect(outcome.event.identity).not.toBe(identityOf(onlyStrings));
  });

  it.each<[string, string, string]>([
    ["lone surrogates", "\uD800", "\uDC00"],
    ["a lone surrogate and the replacement character", "\uD800", "\uFFFD"],
    ["a surrogate pair and its JSON escape text", "\uD83D\uDE00", "\\ud83d\\ude00"],
    ["a length prefix inside a value", "1:a", "1"],
  ])("tells apart users: %s", (_name, a, b) => {
    expect(a).not.toBe(b);
    expect(identityOf(modified({ "endpoint.User.UserId": a }))).not.toBe(
      identityOf(modified({ "endpoint.User.UserId": b })),
    );
  });

  it("never collides on the separators of its serialization", () => {
    const a = modified({ "session.session_id": 'a","b' });
    const b = modified({ "session.session_id": "a", "endpoint.Id": "b" });
    expect(identityOf(a)).not.toBe(identityOf(b));
  });
});

describe("canonicalNumber", () => {
  it.each<[number, string]>([
    [1, "1"],
    [-0, "0"],
    [0.1, "0.1"],
    [1e21, "1000000000000000000000"],
    [1.5e-7, "0.00000015"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, canonicalDecimal(toDecimal("1.7976931348623157e308"))],
  ])("gives %s as %s", (value, expected) => {
    expect(canonicalNumber(value)).toBe(expected);
  });

  it("equals canonicalDecimal(toDecimal(String(value))) for every finite double", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(canonicalNumber(value)).toBe(canonicalDecimal(toDecimal(String(value))));
      }),
      { numRuns: 5000 },
    );
  });
});
