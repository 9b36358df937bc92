import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseIsoDateTime } from "../src/dates.js";
import type { PiaEvent, RecordOutcome, SkipReason } from "../src/event.js";
import { MAX_RECORD_BYTES } from "../src/event.js";
import { InvalidMappingError, parseEventMapping } from "../src/parseEventMapping.js";
import { parseRecord } from "../src/parseRecord.js";
import { recordReader } from "../src/recordReader.js";

const examples = new URL("../../../docs/examples/", import.meta.url);
const example = (name: string) => readFileSync(new URL(name, examples), "utf8");
const oneLine = (text: string) => JSON.stringify(JSON.parse(text));

const MAPPING = parseEventMapping(example("app-event.mapping.yaml"));
const segment = recordReader({ format: "segment" });
const json = recordReader({ format: "json", mapping: MAPPING });
const auto = recordReader();
const pinpoint = recordReader({ format: "pinpoint" });

type Json = Record<string, unknown>;

function only(outcomes: RecordOutcome[]): RecordOutcome {
  expect(outcomes).toHaveLength(1);
  return outcomes[0] as RecordOutcome;
}

function eventOf(outcome: RecordOutcome): PiaEvent {
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(outcome)}`);
  return outcome.event;
}

/** A valid Segment track call with fields replaced (`undefined` deletes). */
function call(fields: Json = {}): Json {
  const base: Json = {
    type: "track",
    event: "purchase",
    userId: "u-1",
    anonymousId: "anon-1",
    properties: { product: "chair", price: 10.5, quantity: 2 },
    context: { app: { namespace: "com.example.shop" } },
    timestamp: "2021-03-14T23:30:00-02:00",
    sentAt: "2021-03-15T01:30:01.000Z",
    messageId: "m-1",
  };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

/** A valid record of the app's own shape (docs/examples/app-event.json) with fields replaced. */
function appEvent(fields: Json = {}): Json {
  const base = JSON.parse(example("app-event.json")) as Json;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

describe("the example of each format", () => {
  it("reads docs/examples/segment-track.json: UTC instant of the offset time, properties split, messageId", () => {
    const event = eventOf(only(segment.read(oneLine(example("segment-track.json")))));
    expect(event).toStrictEqual({
      identity: "segment:api-2vAkWn4bZl8QxP1rT0s9Yc",
      appId: "com.example.shop",
      userId: "customer-1308",
      eventType: "purchase",
      timestamp: Date.parse("2021-03-14T14:06:29.734Z"),
      attributes: { product: "chair" },
      metrics: [
        ["price", "189.9"],
        ["quantity", "2"],
      ],
    });
  });

  it("reads docs/examples/app-event.json through its mapping", () => {
    const event = eventOf(only(json.read(oneLine(example("app-event.json")))));
    expect(event).toStrictEqual({
      identity: "mapped:e-5b0c9f2e-2f1d-4c1e-9a57-7c3d2b1a0f88",
      appId: "shop-web",
      userId: "customer-1308",
      eventType: "purchase",
      timestamp: 1615730789734,
      attributes: { product: "chair" },
      metrics: [
        ["price", "189.9"],
        ["quantity", "2"],
      ],
    });
  });

  it("reads Pinpoint's example exactly as parseRecord does, in pinpoint and auto formats", () => {
    const text = oneLine(example("pinpoint-custom-event.json"));
    expect(pinpoint.read(text)).toStrictEqual([parseRecord(text)]);
    expect(auto.read(text)).toStrictEqual([parseRecord(text)]);
  });

  it("auto reads a Segment call and a Pinpoint record each by its own rules", () => {
    const text = JSON.stringify(call());
    expect(auto.read(text)).toStrictEqual(segment.read(text));
    expect(only(auto.read('{"name":"x"}'))).toMatchObject({ kind: "skipped", reason: "bad_event" });
    expect(only(pinpoint.read(text))).toMatchObject({ kind: "skipped", reason: "bad_event" });
  });
});

const TOO_LARGE = `{"type":"track","event":"x","pad":"${"x".repeat(MAX_RECORD_BYTES)}"}`;

describe("Segment checks, in order (the first failing one decides)", () => {
  it.each<[string, string, RecordOutcome["kind"], SkipReason | undefined]>([
    ["over 1 MiB", TOO_LARGE, "skipped", "too_large"],
    ["not JSON", '{"type":"track"', "skipped", "bad_json"],
    ["a list", JSON.stringify([call()]), "skipped", "bad_event"],
    ["no type", JSON.stringify(call({ type: undefined })), "skipped", "bad_event"],
    ["an unknown type", JSON.stringify(call({ type: "click" })), "skipped", "bad_event"],
    ["no event", JSON.stringify(call({ event: undefined, userId: undefined })), "skipped", "bad_event"],
    ["an empty event", JSON.stringify(call({ event: "" })), "skipped", "bad_event"],
    [
      "a page call",
      JSON.stringify(call({ type: "page", event: undefined, userId: undefined })),
      "ignored",
      undefined,
    ],
    ["an identify call", JSON.stringify({ type: "identify", userId: "u-1" }), "ignored", undefined],
    ["screen", JSON.stringify({ type: "screen", name: "Home" }), "ignored", undefined],
    ["group", JSON.stringify({ type: "group", groupId: "g" }), "ignored", undefined],
    ["alias", JSON.stringify({ type: "alias", previousId: "a", userId: "b" }), "ignored", undefined],
    ["a _ event", JSON.stringify(call({ event: "_session.start", userId: undefined })), "ignored", undefined],
    ["a trk_ event", JSON.stringify(call({ event: "trk_x", timestamp: 1 })), "ignored", undefined],
    [
      "anonymousId alone",
      JSON.stringify(call({ userId: undefined, timestamp: "bad" })),
      "skipped",
      "no_user",
    ],
    ["an empty userId", JSON.stringify(call({ userId: "" })), "skipped", "no_user"],
    ["a number userId", JSON.stringify(call({ userId: 7 })), "skipped", "no_user"],
    ["no timestamp", JSON.stringify(call({ timestamp: undefined })), "skipped", "bad_timestamp"],
    ["epoch ms timestamp", JSON.stringify(call({ timestamp: 1615730789734 })), "skipped", "bad_timestamp"],
    ["no zone", JSON.stringify(call({ timestamp: "2021-03-14T10:00:00" })), "skipped", "bad_timestamp"],
    [
      "not a real day",
      JSON.stringify(call({ timestamp: "2021-02-29T10:00:00Z" })),
      "skipped",
      "bad_timestamp",
    ],
    ["before 1970", JSON.stringify(call({ timestamp: "1969-12-31T23:59:59Z" })), "skipped", "bad_timestamp"],
    [
      "an infinite number before a bad timestamp is still a bad timestamp",
      JSON.stringify(call({ timestamp: "x" })).replace('"price":10.5', '"price":1e999'),
      "skipped",
      "bad_timestamp",
    ],
    [
      "an infinite property",
      JSON.stringify(call()).replace('"price":10.5', '"price":1e999'),
      "skipped",
      "bad_metric",
    ],
    ["properties a list", JSON.stringify(call({ properties: [1] })), "skipped", "bad_metric"],
    ["properties null", JSON.stringify(call({ properties: null })), "event", undefined],
    [
      "properties of text, lists and null",
      JSON.stringify(call({ properties: { a: "x", b: [1], c: null } })),
      "event",
      undefined,
    ],
  ])("%s", (_name, text, kind, reason) => {
    const outcome = only(segment.read(text));
    expect(outcome.kind).toBe(kind);
    if (reason !== undefined) expect(outcome).toMatchObject({ reason });
  });

  it("names the field in skip details and quotes no value", () => {
    const outcome = only(segment.read(JSON.stringify(call({ timestamp: "secret-value" }))));
    expect(outcome).toMatchObject({ kind: "skipped", reason: "bad_timestamp" });
    expect(JSON.stringify(outcome)).toContain("timestamp");
    expect(JSON.stringify(outcome)).not.toContain("secret-value");
  });

  it("keeps text properties as attributes and numbers as metrics, in text order, exactly", () => {
    const text = `{"type":"track","event":"e","userId":"u","timestamp":"2021-01-01T00:00:00Z","properties":{"b":0.1,"2":"two","a":123456789012345678901234567890,"1":3,"s":"x","n":null}}`;
    const event = eventOf(only(segment.read(text)));
    expect(event.metrics).toStrictEqual([
      ["b", "0.1"],
      ["a", "123456789012345678901234567890"],
      ["1", "3"],
    ]);
    expect(event.attributes).toStrictEqual({ 2: "two", s: "x" });
    expect(event.appId).toBe("");
  });
});

describe("Segment identity", () => {
  const hashOf = (fields: Json) =>
    eventOf(only(segment.read(JSON.stringify(call({ messageId: undefined, ...fields }))))).identity;

  it("is the messageId, in its own space: a Pinpoint event_id of the same text is another event", () => {
    const pinpointEvent = eventOf(
      parseRecord(
        '{"event_id":"m-1","event_type":"purchase","event_timestamp":1,"endpoint":{"User":{"UserId":"u-1"}}}',
      ),
    );
    expect(eventOf(only(segment.read(JSON.stringify(call())))).identity).not.toBe(pinpointEvent.identity);
  });

  it("without messageId hashes the call except sentAt and receivedAt", () => {
    const first = hashOf({});
    expect(first).toMatch(/^h:/);
    expect(hashOf({ sentAt: "2022-01-01T00:00:00Z", receivedAt: "2022-01-01T00:00:01Z" })).toBe(first);
    expect(hashOf({ anonymousId: "anon-2" })).not.toBe(first);
    expect(hashOf({ properties: { product: "chair", price: 10.51, quantity: 2 } })).not.toBe(first);
    expect(hashOf({ properties: { quantity: 2, price: 10.5, product: "chair" } })).toBe(first);
  });

  it("tells apart numbers that differ beyond a double's digits", () => {
    const base = JSON.stringify(call({ messageId: undefined }));
    const a = eventOf(only(segment.read(base.replace("10.5", "12345678901234567")))).identity;
    const b = eventOf(only(segment.read(base.replace("10.5", "12345678901234568")))).identity;
    expect(a).not.toBe(b);
  });
});

describe("Segment batch envelopes", () => {
  it("gives one outcome per call, in list order, each with its own checks", () => {
    const text = JSON.stringify({
      batch: [call(), call({ userId: undefined }), 5, { type: "identify" }, call({ messageId: "m-2" })],
      sentAt: "2021-03-15T00:00:00Z",
    });
    const outcomes = segment.read(text);
    expect(outcomes.map((o) => (o.kind === "skipped" ? o.reason : o.kind))).toStrictEqual([
      "event",
      "no_user",
      "bad_event",
      "ignored",
      "event",
    ]);
    expect(outcomes[1]).toMatchObject({ detail: expect.stringContaining("batch[1].userId") });
    expect(auto.read(text)).toStrictEqual(outcomes);
  });

  it("scans each call's own properties when the exact path is needed", () => {
    const text = `{"batch":[{"type":"track","event":"e","userId":"u","timestamp":"2021-01-01T00:00:00Z","properties":{"7":1,"x":2}},{"type":"track","event":"e","userId":"v","timestamp":"2021-01-01T00:00:00Z","properties":{"y":0.30000000000000000001}}]}`;
    const [first, second] = segment.read(text).map(eventOf);
    expect(first?.metrics).toStrictEqual([
      ["7", "1"],
      ["x", "2"],
    ]);
    expect(second?.metrics).toStrictEqual([["y", "0.30000000000000000001"]]);
  });

  it.each([
    ['{"batch":[]}', "batch holds no calls"],
    ['{"batch":{}}', "batch is not a list of calls"],
  ])("counts %s as one bad_event record", (text, detail) => {
    expect(segment.read(text)).toStrictEqual([{ kind: "skipped", reason: "bad_event", detail }]);
  });
});

describe("mapped JSON checks, in order", () => {
  it.each<[string, string, RecordOutcome["kind"], SkipReason | undefined]>([
    ["over 1 MiB", TOO_LARGE, "skipped", "too_large"],
    ["not JSON", "{", "skipped", "bad_json"],
    ["a list", "[]", "skipped", "bad_event"],
    ["no event type", JSON.stringify(appEvent({ name: undefined, user: undefined })), "skipped", "bad_event"],
    ["a number event type", JSON.stringify(appEvent({ name: 3 })), "skipped", "bad_event"],
    ["a trk_ event", JSON.stringify(appEvent({ name: "trk_a", user: undefined })), "ignored", undefined],
    ["no user", JSON.stringify(appEvent({ user: { plan: "free" }, at_ms: "x" })), "skipped", "no_user"],
    ["a string time", JSON.stringify(appEvent({ at_ms: "1615730789734" })), "skipped", "bad_timestamp"],
    ["a fractional ms", JSON.stringify(appEvent({ at_ms: 1.5 })), "skipped", "bad_timestamp"],
    ["a text metric", JSON.stringify(appEvent({ values: { price: "1" } })), "skipped", "bad_metric"],
    ["metrics a list", JSON.stringify(appEvent({ values: [1] })), "skipped", "bad_metric"],
    ["no metrics", JSON.stringify(appEvent({ values: undefined })), "event", undefined],
  ])("%s", (_name, text, kind, reason) => {
    const outcome = only(json.read(text));
    expect(outcome.kind).toBe(kind);
    if (reason !== undefined) expect(outcome).toMatchObject({ reason });
  });

  it.each([
    ["s", 1615730789.734, 1615730789734],
    ["s", 1615730789.7349, 1615730789734],
    ["s", 1, 1000],
    ["iso", "2021-03-14T23:30:00-02:00", Date.parse("2021-03-15T01:30:00Z")],
    ["ms", 0, 0],
  ] as const)("timestampUnit %s reads %s as %s ms", (unit, value, ms) => {
    const reader = recordReader({
      format: "json",
      mapping: parseEventMapping(`userId: u\neventType: e\ntimestamp: t\ntimestampUnit: ${unit}`),
    });
    expect(eventOf(only(reader.read(JSON.stringify({ u: "a", e: "b", t: value })))).timestamp).toBe(ms);
  });

  it("walks own members only: __proto__ is data, and a path never reaches the prototype", () => {
    const reader = recordReader({
      format: "json",
      mapping: parseEventMapping("userId: __proto__.id\neventType: constructor.name\ntimestamp: t"),
    });
    expect(only(reader.read('{"t":1,"__proto__":{"id":"u"}}'))).toMatchObject({ reason: "bad_event" });
    const event = eventOf(only(reader.read('{"t":1,"__proto__":{"id":"u"},"constructor":{"name":"buy"}}')));
    expect(event).toMatchObject({ userId: "u", eventType: "buy" });
  });

  it("hashes the mapped fields only when there is no eventId, apart from other formats", () => {
    const text = (extra: Json) => JSON.stringify(appEvent({ id: undefined, ...extra }));
    const a = eventOf(only(json.read(text({})))).identity;
    expect(a).toMatch(/^h:/);
    expect(eventOf(only(json.read(text({ deliveredAt: 5 })))).identity).toBe(a);
    expect(eventOf(only(json.read(text({ at_ms: 1615730789735 })))).identity).not.toBe(a);
  });
});

describe("parseEventMapping", () => {
  const issuesOf = (text: string) => {
    try {
      parseEventMapping(text);
    } catch (error: unknown) {
      if (error instanceof InvalidMappingError) return error.issues;
      throw error;
    }
    throw new Error("expected an invalid mapping");
  };

  it("lists every problem with its key", () => {
    expect(
      issuesOf("userid: user.id\neventType: ''\ntimestamp: a..b\ntimestampUnit: sec\nmetrics: 3"),
    ).toStrictEqual([
      { key: "userid", message: expect.stringContaining("did you mean userId?") },
      { key: "userId", message: expect.stringContaining("is required") },
      { key: "eventType", message: expect.stringContaining("is empty") },
      { key: "timestamp", message: expect.stringContaining("empty step") },
      { key: "metrics", message: expect.stringContaining("must be a dotted path") },
      { key: "timestampUnit", message: expect.stringContaining("ms, s, iso") },
    ]);
  });

  it.each([["[]"], ["a: [b"], ["just text"], [""]])("refuses %j as a whole", (text) => {
    expect(issuesOf(text)).toStrictEqual([{ key: "(file)", message: expect.any(String) }]);
  });

  it("reads JSON as well as YAML", () => {
    expect(
      parseEventMapping('{"userId":"u","eventType":"e","timestamp":"t","timestampUnit":"iso"}'),
    ).toMatchObject({
      userId: { keys: ["u"] },
      timestampUnit: "iso",
    });
  });
});

describe("parseIsoDateTime", () => {
  it.each([
    ["2021-03-14T23:30:00-02:00", "2021-03-15T01:30:00.000Z"],
    ["2021-03-14T16:06:29.734+02:00", "2021-03-14T14:06:29.734Z"],
    ["2021-01-01T00:00:00.123456789Z", "2021-01-01T00:00:00.123Z"],
    ["2020-02-29T12:00:00+05:30", "2020-02-29T06:30:00.000Z"],
  ])("reads %s as %s", (text, iso) => {
    expect(new Date(parseIsoDateTime(text) as number).toISOString()).toBe(iso);
  });

  it.each([
    "2021-03-14 10:00:00Z",
    "2021-03-14t10:00:00z",
    "2021-03-14T10:00Z",
    "2021-03-14T10:00:00+0200",
    "2021-03-14T24:00:00Z",
    "2021-03-14T10:00:60Z",
    "2021-13-01T10:00:00Z",
    "2021-03-14T10:00:00+24:00",
    "2021-03-14",
  ])("refuses %s", (text) => {
    expect(parseIsoDateTime(text)).toBeUndefined();
  });

  it("agrees with Date.parse on every valid date-time (property)", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("1970-01-02T00:00:00Z"),
          max: new Date("9998-12-31T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }),
        (date, offsetMinutes) => {
          const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, 23);
          const sign = offsetMinutes < 0 ? "-" : "+";
          const abs = Math.abs(offsetMinutes);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
          expect(parseIsoDateTime(`${local}${zone}`)).toBe(date.getTime());
        },
      ),
    );
  });
});
