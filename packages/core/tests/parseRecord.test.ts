import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalDecimal, toDecimal } from "../src/decimal.js";
import type { PiaEvent, RecordOutcome } from "../src/event.js";
import { MAX_RECORD_BYTES } from "../src/event.js";
import { eventIdentity } from "../src/eventIdentity.js";
import { parseRecord } from "../src/parseRecord.js";
import { scanTopLevelMetrics, scanTopLevelValueText } from "../src/scanMetrics.js";

/** docs/examples/pinpoint-custom-event.json: one custom event as Pinpoint delivers it. */
const EXAMPLE = `{
  "event_type": "purchase",
  "event_timestamp": 1612345678901,
  "arrival_timestamp": 1612345679350,
  "event_version": "3.1",
  "application": {
    "app_id": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "cognito_identity_pool_id": "us-east-1:11111111-2222-3333-4444-555555555555",
    "sdk": { "name": "aws-amplify", "version": "5.3.0" }
  },
  "client": { "client_id": "endpoint-7f3a", "cognito_id": "us-east-1:66666666-7777-8888-9999-000000000000" },
  "device": {
    "locale": { "code": "en_GB", "country": "GB", "language": "en" },
    "make": "Apple", "model": "iPhone", "platform": { "name": "iOS", "version": "17.2" }
  },
  "session": { "session_id": "c0ffee-42", "start_timestamp": 1612345600000 },
  "attributes": { "product": "chair", "campaign": "spring" },
  "metrics": { "price": 129.99, "quantity": 2 },
  "endpoint": {
    "Id": "endpoint-7f3a",
    "ApplicationId": "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    "ChannelType": "APNS",
    "Address": "device-token-redacted",
    "EndpointStatus": "ACTIVE",
    "OptOut": "NONE",
    "EffectiveDate": "2021-02-03T09:40:00.000Z",
    "Attributes": { "interests": ["furniture"] },
    "User": { "UserId": "customer-1042", "UserAttributes": { "plan": ["gold"] } }
  },
  "awsAccountId": "123456789012"
}`;

type Json = Record<string, unknown>;

/** Sets (or, for `undefined`, deletes) fields of `target`. */
function patch(target: Json, fields: Json): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) delete target[key];
    else target[key] = value;
  }
}

/** The example record as one JSON line, with top-level and `endpoint` fields patched. */
function line(top: Json = {}, endpoint: Json = {}): string {
  const record = JSON.parse(EXAMPLE) as Json;
  patch(record, top);
  if (typeof record.endpoint === "object" && record.endpoint !== null)
    patch(record.endpoint as Json, endpoint);
  return JSON.stringify(record);
}

/** A minimal valid record whose `metrics` member is the given raw JSON text. */
function withMetricsText(metricsText: string): string {
  return `{"event_type":"buy","event_timestamp":1,"endpoint":{"User":{"UserId":"u"}},"metrics":${metricsText}}`;
}

function eventOf(outcome: RecordOutcome): PiaEvent {
  if (outcome.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(outcome)}`);
  return outcome.event;
}

describe("parseRecord", () => {
  it("reads the example record", () => {
    const outcome = parseRecord(EXAMPLE);
    const record = JSON.parse(EXAMPLE) as Json;
    const metrics: Array<[string, string]> = [
      ["price", "129.99"],
      ["quantity", "2"],
    ];
    const expected = {
      appId: "a1b2c3d4e5f60718293a4b5c6d7e8f90",
      userId: "customer-1042",
      eventType: "purchase",
      timestamp: 1612345678901,
      attributes: { product: "chair", campaign: "spring" },
      metrics,
    };
    expect(outcome).toEqual({
      kind: "event",
      event: {
        ...expected,
        endpointId: "endpoint-7f3a",
        identity: eventIdentity(record, expected),
      },
    });
    expect(eventOf(outcome).identity).toMatch(/^h:[A-Za-z0-9_-]{22}$/);
  });

  it.each<[string, string, string]>([
    ["empty line", "", "bad_json"],
    ["truncated JSON", '{"event_type":"a"', "bad_json"],
    ["trailing garbage", `${line()}x`, "bad_json"],
    ["a JSON array", "[1,2]", "bad_event"],
    ["a JSON string", '"purchase"', "bad_event"],
    ["JSON null", "null", "bad_event"],
    ["no event_type", line({ event_type: undefined }), "bad_event"],
    ["empty event_type", line({ event_type: "" }), "bad_event"],
    ["numeric event_type", line({ event_type: 5 }), "bad_event"],
    ["no endpoint", line({ endpoint: undefined }), "no_user"],
    ["endpoint null", line({ endpoint: null }), "no_user"],
    ["no endpoint.User", line({}, { User: undefined }), "no_user"],
    ["empty UserId", line({}, { User: { UserId: "" } }), "no_user"],
    ["numeric UserId", line({}, { User: { UserId: 42 } }), "no_user"],
    ["no event_timestamp", line({ event_timestamp: undefined }), "bad_timestamp"],
    ["string event_timestamp", line({ event_timestamp: "123" }), "bad_timestamp"],
    ["fractional event_timestamp", line({ event_timestamp: 1.5 }), "bad_timestamp"],
    ["negative event_timestamp", line({ event_timestamp: -1 }), "bad_timestamp"],
    ["event_timestamp past the Date range", line({ event_timestamp: 8.64e15 + 1 }), "bad_timestamp"],
    [
      "event_timestamp 1e400",
      withMetricsText("{}").replace('"event_timestamp":1', '"event_timestamp":1e400'),
      "bad_timestamp",
    ],
    ["metrics an array", line({ metrics: [1] }), "bad_metric"],
    ["metrics a number", line({ metrics: 3 }), "bad_metric"],
    ["metric a string", line({ metrics: { price: "12" } }), "bad_metric"],
    ["metric null", line({ metrics: { price: null } }), "bad_metric"],
    ["metric an object", line({ metrics: { price: { v: 1 } } }), "bad_metric"],
    ["metric 1e400 (Infinity)", withMetricsText('{"a":1,"b":1e400}'), "bad_metric"],
    ["metric -1e400", withMetricsText('{"b":-1e400}'), "bad_metric"],
  ])("skips %s as %s", (_name, text, reason) => {
    expect(parseRecord(text)).toMatchObject({ kind: "skipped", reason });
  });

  it.each<[string, string, RecordOutcome["kind"], string]>([
    ["_system and no user", line({ event_type: "_session.start", endpoint: undefined }), "ignored", ""],
    ["trk_ and bad timestamp", line({ event_type: "trk_x", event_timestamp: "1" }), "ignored", ""],
    [
      "no event_type and no user",
      line({ event_type: undefined, endpoint: undefined }),
      "skipped",
      "bad_event",
    ],
    ["no user and bad timestamp", line({ endpoint: undefined, event_timestamp: -5 }), "skipped", "no_user"],
    ["no user and bad metric", line({ endpoint: undefined, metrics: { a: "x" } }), "skipped", "no_user"],
    [
      "bad timestamp and bad metric",
      line({ event_timestamp: 1.5, metrics: { a: "x" } }),
      "skipped",
      "bad_timestamp",
    ],
  ])("checks in order: %s -> %s %s", (_name, text, kind, reason) => {
    const outcome = parseRecord(text);
    expect(outcome.kind).toBe(kind);
    if (outcome.kind === "skipped") expect(outcome.reason).toBe(reason);
  });

  it.each<[string, boolean]>([
    ["_session.start", true],
    ["_", true],
    ["trk_pageview", true],
    ["trk_", true],
    ["trk", false],
    ["TRK_x", false],
    ["x_y", false],
    [" _x", false],
  ])("event_type %j ignored: %s", (eventType, ignored) => {
    const outcome = parseRecord(line({ event_type: eventType }));
    expect(outcome).toEqual(
      ignored ? { kind: "ignored", eventType } : expect.objectContaining({ kind: "event" }),
    );
  });

  it.each<[string, string, string]>([
    ["bad timestamp", line({ event_timestamp: "customer-1042" }), "customer-1042"],
    ["bad metric", line({ metrics: { price: "secret-value" } }), "secret-value"],
    ["no user", line({}, { User: { UserId: 12345 } }), "12345"],
  ])("keeps values out of the detail of a %s skip", (_name, text, value) => {
    const outcome = parseRecord(text);
    if (outcome.kind !== "skipped") throw new Error("expected a skip");
    expect(outcome.detail).not.toContain(value);
    expect(outcome.detail).not.toContain("customer-1042");
    expect(outcome.detail.length).toBeGreaterThan(0);
  });

  it("names the metric in a bad_metric detail", () => {
    expect(parseRecord(line({ metrics: { price: "12" } }))).toEqual({
      kind: "skipped",
      reason: "bad_metric",
      detail: "metrics.price is not a finite number",
    });
  });

  it.each<[string, string, string]>([
    ["application.app_id", line(), "a1b2c3d4e5f60718293a4b5c6d7e8f90"],
    [
      "endpoint.ApplicationId when app_id is missing",
      line({ application: undefined }),
      "a1b2c3d4e5f60718293a4b5c6d7e8f90",
    ],
    [
      "endpoint.ApplicationId when app_id is empty",
      line({ application: { app_id: "" } }, { ApplicationId: "fallback" }),
      "fallback",
    ],
    [
      "endpoint.ApplicationId when app_id is not a string",
      line({ application: { app_id: 7 } }, { ApplicationId: "fallback" }),
      "fallback",
    ],
    ["empty when neither", line({ application: undefined }, { ApplicationId: undefined }), ""],
  ])("takes the app from %s", (_name, text, appId) => {
    expect(eventOf(parseRecord(text)).appId).toBe(appId);
  });

  it.each<[string, string, string | undefined]>([
    ["endpoint.Id", line({}, { Id: "ep-a" }), "ep-a"],
    ["client.client_id when endpoint.Id is missing", line({}, { Id: undefined }), "endpoint-7f3a"],
    ["client.client_id when endpoint.Id is empty", line({}, { Id: "" }), "endpoint-7f3a"],
    ["nothing when neither", line({ client: undefined }, { Id: undefined }), undefined],
  ])("takes the endpoint from %s", (_name, text, endpointId) => {
    const event = eventOf(parseRecord(text));
    expect(event.endpointId).toBe(endpointId);
    expect("endpointId" in event).toBe(endpointId !== undefined);
  });

  it.each<[string, unknown, Record<string, string>]>([
    ["only string values", { a: "1", n: 1, b: true, o: { x: "y" }, z: null, s: "" }, { a: "1", s: "" }],
    ["an array", ["a"], {}],
    ["a string", "a", {}],
    ["null", null, {}],
    ["a __proto__ key kept as data", JSON.parse('{"__proto__":"p","n":1}'), JSON.parse('{"__proto__":"p"}')],
  ])("keeps attributes: %s", (_name, attributes, expected) => {
    const event = eventOf(parseRecord(line({ attributes })));
    expect(event.attributes).toEqual(expected);
    expect(Object.keys(event.attributes)).toEqual(Object.keys(expected));
  });

  it("reads no metrics as an empty list", () => {
    expect(eventOf(parseRecord(line({ metrics: undefined }))).metrics).toEqual([]);
    expect(eventOf(parseRecord(line({ metrics: null }))).metrics).toEqual([]);
    expect(eventOf(parseRecord(line({ metrics: {} }))).metrics).toEqual([]);
  });

  it.each<[string, string, Array<[string, string]>]>([
    [
      "integer-like keys in text order",
      '{"b":1,"7":2}',
      [
        ["b", "1"],
        ["7", "2"],
      ],
    ],
    [
      "several integer-like keys",
      '{"z":1,"10":2,"2":3,"0":4}',
      [
        ["z", "1"],
        ["10", "2"],
        ["2", "3"],
        ["0", "4"],
      ],
    ],
    [
      "a largest array index",
      '{"b":1,"4294967294":2}',
      [
        ["b", "1"],
        ["4294967294", "2"],
      ],
    ],
    ["long decimal digits", '{"x":0.1000000000000000000001}', [["x", "0.1000000000000000000001"]]],
    ["long integer and fraction", '{"x":12345678901234567.5}', [["x", "12345678901234567.5"]]],
    [
      "a 38-digit integer",
      '{"x":12345678901234567890123456789012345678}',
      [["x", "12345678901234567890123456789012345678"]],
    ],
    ["a negative long integer", '{"x":-9007199254740993}', [["x", "-9007199254740993"]]],
    [
      "1, 1.0 and 1e0 alike",
      '{"a":1,"b":1.0,"c":1e0,"d":10E-1}',
      [
        ["a", "1"],
        ["b", "1"],
        ["c", "1"],
        ["d", "1"],
      ],
    ],
    [
      "exponent forms",
      '{"a":1e21,"b":1.5e-7,"c":-2E+3}',
      [
        ["a", "1000000000000000000000"],
        ["b", "0.00000015"],
        ["c", "-2000"],
      ],
    ],
    [
      "negative zero",
      '{"a":-0,"b":-0.0e3}',
      [
        ["a", "0"],
        ["b", "0"],
      ],
    ],
    ["a value below the double range", '{"a":1e-400}', [["a", "1e-400"]]],
    ["a subnormal double", '{"a":1.5e-320}', [["a", "1.5e-320"]]],
    [
      "repeated keys: first position, last value",
      '{"a":1,"b":2,"a":3}',
      [
        ["a", "3"],
        ["b", "2"],
      ],
    ],
    [
      "repeated integer-like keys",
      '{"b":1,"7":2,"7":5}',
      [
        ["b", "1"],
        ["7", "5"],
      ],
    ],
    [
      "escaped keys",
      '{"\\u0062":1,"7":2,"a\\"b":3}',
      [
        ["b", "1"],
        ["7", "2"],
        ['a"b', "3"],
      ],
    ],
  ])("keeps metrics exact: %s", (_name, metricsText, expected) => {
    expect(eventOf(parseRecord(withMetricsText(metricsText))).metrics).toEqual(expected);
  });

  it.each([" ", "\n", "\r", "\t", " \r\n\t", "-", " -"])(
    "finds a long-digit metric after %j",
    (separator) => {
      const text = withMetricsText(`{"x":${separator}9007199254740993}`);
      const sign = separator.includes("-") ? "-" : "";
      expect(eventOf(parseRecord(text)).metrics).toEqual([["x", `${sign}9007199254740993`]]);
    },
  );

  it.each(['"12345678901234567890"', "12345678901234567890", '"a12345678901234567890"'])(
    "reads the same metrics with a long digit run elsewhere: order %s",
    (order) => {
      const text = line({ metrics: { b: 0.5, a: 2 } }).replace("{", `{"order":${order},`);
      expect(eventOf(parseRecord(text)).metrics).toEqual([
        ["b", "0.5"],
        ["a", "2"],
      ]);
    },
  );

  it.each(Array.from({ length: 34 }, (_, pad) => pad))(
    "finds a long-digit metric at any offset in the line (padding %i)",
    (pad) => {
      const text = line({ attributes: { pad: "x".repeat(pad) }, metrics: { a: 1 } }).replace(
        '"a":1',
        // 2^53 + 1: the shortest run (16 characters) that a double cannot hold.
        '"a":9007199254740993',
      );
      expect(eventOf(parseRecord(text)).metrics).toEqual([["a", "9007199254740993"]]);
    },
  );

  it.each<[string, string]>([
    ["e-", '"attributes":{"a":"e-1","b":"de-12"}'],
    ["E-", '"attributes":{"a":"E-","b":"XE-12"}'],
  ])("finds a long negative exponent after other %s text", (_marker, attributes) => {
    const text = withMetricsText('{"z":0,"t":25e-400}').replace("{", `{${attributes},`);
    expect(eventOf(parseRecord(text)).metrics).toEqual([
      ["z", "0"],
      ["t", "2.5e-399"],
    ]);
  });

  it("gives distinct identities to long numeric event_ids that a double cannot tell apart", () => {
    const a = eventOf(parseRecord(withMetricsText("{}").replace("{", '{"event_id":12345678901234567,')));
    const b = eventOf(parseRecord(withMetricsText("{}").replace("{", '{"event_id":12345678901234568,')));
    expect(a.identity).toBe("id:12345678901234567");
    expect(b.identity).toBe("id:12345678901234568");
  });
});

describe("scanTopLevelMetrics", () => {
  it.each<[string, string, Array<[string, string]> | undefined]>([
    [
      "raw tokens in text order",
      '{"metrics":{"b":1.50,"7":2e3}}',
      [
        ["b", "1.50"],
        ["7", "2e3"],
      ],
    ],
    [
      "whitespace everywhere",
      ' { "metrics" : { "a" : -1 , "b":2 } } ',
      [
        ["a", "-1"],
        ["b", "2"],
      ],
    ],
    [
      "nested metrics ignored",
      '{"endpoint":{"metrics":{"x":9}},"s":"\\"metrics\\":{","metrics":{"y":1}}',
      [["y", "1"]],
    ],
    ["braces and escapes in strings", '{"a":"}\\\\","b":["{",{"c":"]"}],"metrics":{"z":0}}', [["z", "0"]]],
    ["an escaped top-level key", '{"metr\\u0069cs":{"a":1}}', [["a", "1"]]],
    ["the last top-level metrics", '{"metrics":{"a":1},"x":0,"metrics":{"b":2}}', [["b", "2"]]],
    ["a last metrics that is null", '{"metrics":{"a":1},"metrics":null}', undefined],
    [
      "repeated inner keys",
      '{"metrics":{"a":"x","b":2,"a":3}}',
      [
        ["a", "3"],
        ["b", "2"],
      ],
    ],
    ["an empty metrics", '{"metrics":{}}', []],
    ["no metrics", '{"metric":{"a":1}}', undefined],
    ["not an object", "[1]", undefined],
    ["malformed text", '{"metrics":{"a":1', undefined],
  ])("%s", (_name, text, expected) => {
    expect(scanTopLevelMetrics(text)).toEqual(expected);
  });

  it.each<[string, string, string | undefined]>([
    ['{"event_id":12345678901234567890,"x":1}', "event_id", "12345678901234567890"],
    ['{"a":{"event_id":1},"event_id":"s"}', "event_id", '"s"'],
    ['{"a":{"event_id":1}}', "event_id", undefined],
  ])("finds the raw text of a top-level value in %s", (text, key, expected) => {
    expect(scanTopLevelValueText(text, key)).toBe(expected);
  });
});

// --- Property: metrics from parseRecord equal a brute-force model of the text. ---

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(..."0123456789"), { minLength: min, maxLength: max }).map((d) => d.join(""));

/** JSON number text: short ones (the fast path) and long or exotic ones (the exact path). */
const numberText = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc
    .tuple(
      fc.boolean(),
      fc.oneof(
        fc.constant("0"),
        fc.tuple(fc.constantFrom(..."123456789"), digits(0, 24)).map(([a, b]) => a + b),
      ),
      fc.option(digits(1, 26), { nil: undefined }),
      fc.option(
        fc.tuple(fc.constantFrom("e", "E"), fc.constantFrom("", "+", "-"), fc.integer({ min: 0, max: 400 })),
        { nil: undefined },
      ),
    )
    .map(
      ([negative, whole, fraction, exponent]) =>
        `${negative ? "-" : ""}${whole}${fraction === undefined ? "" : `.${fraction}`}${
          exponent === undefined ? "" : `${exponent[0]}${exponent[1]}${exponent[2]}`
        }`,
    ),
);

const metricName = fc.oneof(
  fc.constantFrom(
    "0",
    "1",
    "7",
    "10",
    "01",
    "-1",
    "1.5",
    "4294967294",
    "4294967295",
    "price",
    "qty",
    "__proto__",
  ),
  fc.integer({ min: 0, max: 99999 }).map(String),
  fc.string({ maxLength: 6 }),
);

/** A key written as JSON text, sometimes with its first character \u-escaped. */
const keyText = fc.tuple(metricName, fc.boolean()).map(([name, escaped]): [string, string] => {
  if (!escaped || name === "") return [name, JSON.stringify(name)];
  const code = name.charCodeAt(0).toString(16).padStart(4, "0");
  return [name, `"\\u${code}${JSON.stringify(name.slice(1)).slice(1)}`];
});

describe("parseRecord metrics (property)", () => {
  it("equal the text's entries, first position and last value, canonical decimals", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keyText, numberText), { maxLength: 8 }),
        // Another member: a short number, or a long one (which sends every line down the exact path).
        fc.constantFrom("1", '"12345678901234567"', "12345678901234567"),
        (entries, noise) => {
          const metricsText = `{${entries.map(([[, key], value]) => `${key}:${value}`).join(",")}}`;
          const text = withMetricsText(metricsText).replace("{", `{"note":${noise},`);
          const outcome = parseRecord(text);
          const values = Object.values(JSON.parse(metricsText) as Record<string, number>);
          if (values.some((value) => !Number.isFinite(value))) {
            expect(outcome).toMatchObject({ kind: "skipped", reason: "bad_metric" });
            return;
          }
          const model: Array<[string, string]> = [];
          for (const [[name], value] of entries) {
            const canonical = canonicalDecimal(toDecimal(value));
            const existing = model.find((entry) => entry[0] === name);
            if (existing === undefined) model.push([name, canonical]);
            else existing[1] = canonical;
          }
          expect(eventOf(outcome).metrics).toEqual(model);
          const scanned = scanTopLevelMetrics(text)?.map(([name, raw]) => [
            name,
            canonicalDecimal(toDecimal(raw)),
          ]);
          expect(scanned).toEqual(model);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("parseRecord size limit", () => {
  const LIMIT = 1_048_576;
  /** A valid record of exactly `bytes` bytes of UTF-8, padded with `pad` (1 or more bytes each). */
  function recordOfBytes(bytes: number, pad = "x"): string {
    const shell = line({ attributes: { pad: "" } });
    const room = bytes - Buffer.byteLength(shell, "utf8");
    const padBytes = Buffer.byteLength(pad, "utf8");
    const text = pad.repeat(Math.floor(room / padBytes)) + "x".repeat(room % padBytes);
    return shell.replace('"pad":""', `"pad":"${text}"`);
  }

  it("is 1 MiB, Kinesis's largest record", () => {
    expect(MAX_RECORD_BYTES).toBe(LIMIT);
  });

  it.each<[string, string]>([
    ["ASCII", "x"],
    ["2-byte characters", "é"],
    ["3-byte characters", "€"],
    ["4-byte characters", "😀"],
  ])("reads a record of exactly 1 MiB of UTF-8 (%s)", (_, pad) => {
    const text = recordOfBytes(LIMIT, pad);
    expect(Buffer.byteLength(text, "utf8")).toBe(LIMIT);
    expect(parseRecord(text).kind).toBe("event");
  });

  it.each<[string, string]>([
    ["ASCII", "x"],
    ["2-byte characters", "é"],
    ["3-byte characters", "€"],
    ["4-byte characters", "😀"],
  ])("skips a record one byte over 1 MiB of UTF-8 as too_large (%s)", (_, pad) => {
    const text = recordOfBytes(LIMIT + 1, pad);
    expect(Buffer.byteLength(text, "utf8")).toBe(LIMIT + 1);
    expect(parseRecord(text)).toStrictEqual({
      kind: "skipped",
      reason: "too_large",
      detail: "the record is over 1 MiB (1,048,576 bytes of UTF-8, Kinesis's record limit)",
    });
  });

  it("checks the size before the JSON", () => {
    expect(parseRecord(`{${"x".repeat(LIMIT)}`)).toMatchObject({ kind: "skipped", reason: "too_large" });
  });
});
