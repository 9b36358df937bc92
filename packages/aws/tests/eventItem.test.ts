import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { PiaEvent } from "@pia/core";
import { parseRecord } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  arrivalOf,
  eventDay,
  fromEventItem,
  InvalidEventItemError,
  toEventItem,
  typeDayKey,
  userKey,
} from "../src/eventItem.js";

const EVENT: PiaEvent = {
  identity: "id:evt-1",
  appId: "app-1",
  userId: "user-1",
  endpointId: "ep-1",
  eventType: "purchase",
  timestamp: 1612345678901,
  attributes: { product: "chair", campaign: "spring" },
  metrics: [
    ["price", "129.99"],
    ["quantity", "2"],
  ],
};

/** What the DynamoDB SDK would store and give back: marshalled to attribute values and back. */
function throughDynamoDb(item: object): Record<string, unknown> {
  return unmarshall(marshall(item));
}

describe("userKey", () => {
  it.each([
    ["a#b", "c", "a", "b#c"],
    ["", "1:x#y", "1:x", "y"],
    ["a", "", "", "a"],
    ["12", "3", "1", "23"],
  ])("tells (%j, %j) and (%j, %j) apart", (appA, userA, appB, userB) => {
    expect(userKey(appA, userA)).not.toBe(userKey(appB, userB));
  });

  it("prefixes the app id with its length", () => {
    expect(userKey("app#1", "user#2")).toBe("5:app#1#user#2");
  });

  it("is injective (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (appA, userA, appB, userB) => {
        fc.pre(appA !== appB || userA !== userB);
        expect(userKey(appA, userA)).not.toBe(userKey(appB, userB));
      }),
    );
  });
});

describe("toEventItem", () => {
  it("keys the item by user and identity and keeps metrics as JSON entries", () => {
    expect(toEventItem(EVENT, 1700000000)).toStrictEqual({
      pk: "5:app-1#user-1",
      sk: "id:evt-1",
      appId: "app-1",
      userId: "user-1",
      endpointId: "ep-1",
      eventType: "purchase",
      ts: 1612345678901,
      attributes: { product: "chair", campaign: "spring" },
      metrics: '[["price","129.99"],["quantity","2"]]',
      expiresAt: 1700000000,
    });
  });

  it("omits endpointId when the event has none", () => {
    const { endpointId: _omitted, ...withoutEndpoint } = EVENT;
    expect(Object.keys(toEventItem(withoutEndpoint, 1))).not.toContain("endpointId");
  });

  it.each([
    ["an empty name", { "": "x", a: "b" }],
    ["a __proto__ name", JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>],
  ])("stores attributes with %s as JSON text, not as a map", (_case, attributes) => {
    const item = toEventItem({ ...EVENT, attributes }, 1);
    expect(item.attributes).toBeUndefined();
    expect(item.attributesJson).toBe(JSON.stringify(attributes));
    expect(Object.entries(fromEventItem(throughDynamoDb(item)).attributes)).toStrictEqual(
      Object.entries(attributes),
    );
  });
});

describe("typeDay (the byTypeDay index key)", () => {
  it("is written only when asked for", () => {
    expect(toEventItem(EVENT, 1)).not.toHaveProperty("typeDay");
    expect(toEventItem(EVENT, 1, {})).not.toHaveProperty("typeDay");
    expect(toEventItem(EVENT, 1, { typeDay: false })).not.toHaveProperty("typeDay");
    expect(toEventItem(EVENT, 1, { typeDay: true }).typeDay).toBe("purchase#2021-02-03");
  });

  it.each([
    [0, "1970-01-01"],
    [Date.UTC(2021, 0, 31, 23, 59, 59, 999), "2021-01-31"],
    [Date.UTC(2021, 1, 1), "2021-02-01"],
    [Date.UTC(2024, 1, 29, 12), "2024-02-29"],
    [8.64e15, "+275760-09-13"],
  ])("takes the UTC day of the event time: %d is %s", (timestamp, day) => {
    expect(eventDay(timestamp)).toBe(day);
    expect(toEventItem({ ...EVENT, timestamp }, 1, { typeDay: true }).typeDay).toBe(`purchase#${day}`);
  });

  it("keeps event types with # apart: the day is always the last 10 characters (property)", () => {
    expect(typeDayKey("a#2021-01-01", "2021-01-02")).toBe("a#2021-01-01#2021-01-02");
    const day = fc.integer({ min: 0, max: Date.UTC(9999, 11, 31) }).map(eventDay);
    fc.assert(
      fc.property(fc.string(), day, fc.string(), day, (typeA, dayA, typeB, dayB) => {
        fc.pre(typeA !== typeB || dayA !== dayB);
        expect(typeDayKey(typeA, dayA)).not.toBe(typeDayKey(typeB, dayB));
      }),
    );
  });

  it("is not event data: the event reads back the same with or without it", () => {
    const item = toEventItem(EVENT, 1, { typeDay: true });
    expect(fromEventItem(item)).toStrictEqual(EVENT);
    expect(fromEventItem(throughDynamoDb(item))).toStrictEqual(EVENT);
    expect(fromEventItem({ ...item, typeDay: 7 })).toStrictEqual(EVENT);
  });
});

describe("arrivedAt (when the item was first stored)", () => {
  const ARRIVED = Date.UTC(2024, 2, 15, 10, 30, 0, 123);

  it("is written only when given, and read back by arrivalOf, also through DynamoDB", () => {
    expect(toEventItem(EVENT, 1)).not.toHaveProperty("arrivedAt");
    expect(arrivalOf(toEventItem(EVENT, 1))).toBeUndefined();
    const item = toEventItem(EVENT, 1, { arrivedAt: ARRIVED, typeDay: true });
    expect(item.arrivedAt).toBe(ARRIVED);
    expect(arrivalOf(item)).toBe(ARRIVED);
    expect(arrivalOf(throughDynamoDb(item))).toBe(ARRIVED);
    expect(arrivalOf({ ...item, arrivedAt: 0 })).toBe(0);
  });

  it("is not event data: the event reads back the same with or without it", () => {
    const item = toEventItem(EVENT, 1, { arrivedAt: ARRIVED });
    expect(fromEventItem(item)).toStrictEqual(EVENT);
    expect(fromEventItem(throughDynamoDb(item))).toStrictEqual(EVENT);
  });

  it.each([["1710498600123"], [1.5], [-1], [2 ** 53], [null]])("rejects a stored arrivedAt of %j", (bad) => {
    const item = { ...toEventItem(EVENT, 1), arrivedAt: bad };
    expect(() => arrivalOf(item)).toThrow(InvalidEventItemError);
    expect(() => arrivalOf(item)).toThrow(expect.objectContaining({ field: "arrivedAt" }));
    expect(() => arrivalOf(item)).toThrow(/arrivedAt is not a whole number >= 0/);
  });
});

describe("fromEventItem", () => {
  it.each([
    ["the example event", EVENT],
    [
      "no endpoint, no attributes, no metrics",
      { ...EVENT, endpointId: undefined, attributes: {}, metrics: [] },
    ],
    ["an empty app id and # in ids", { ...EVENT, appId: "", userId: "u#1", identity: "h:abc#def" }],
    [
      "integer-like metric names first in text order and long decimals",
      {
        ...EVENT,
        metrics: [
          ["price", "0.30000000000000000000000000000000001"],
          ["7", "-1e+400"],
          ["0", "12345678901234567890123"],
        ],
      },
    ],
  ] as Array<[string, PiaEvent & { endpointId?: string | undefined }]>)("round-trips %s", (_case, input) => {
    const { endpointId, ...rest } = input;
    const event: PiaEvent = endpointId === undefined ? rest : { ...rest, endpointId };
    expect(fromEventItem(toEventItem(event, 5))).toStrictEqual(event);
    expect(fromEventItem(throughDynamoDb(toEventItem(event, 5)))).toStrictEqual(event);
  });

  it("round-trips what parseRecord reads, metric order included", () => {
    const outcome = parseRecord(
      '{"event_type":"buy","event_timestamp":5,"endpoint":{"User":{"UserId":"u"}},"metrics":{"b":1.50,"9":2,"a":0.1}}',
    );
    if (outcome.kind !== "event") throw new Error(`expected an event, got ${outcome.kind}`);
    const event = fromEventItem(throughDynamoDb(toEventItem(outcome.event, 5)));
    expect(event).toStrictEqual(outcome.event);
    expect(event.metrics.map(([name]) => name)).toStrictEqual(["b", "9", "a"]);
  });

  const eventArbitrary: fc.Arbitrary<PiaEvent> = fc
    .record({
      identity: fc.string({ minLength: 1 }),
      appId: fc.string(),
      userId: fc.string({ minLength: 1 }),
      endpointId: fc.option(fc.string({ minLength: 1 }), { nil: undefined }),
      eventType: fc.string({ minLength: 1 }),
      timestamp: fc.integer({ min: 0, max: 8.64e15 }),
      attributes: fc.dictionary(fc.string(), fc.string(), { noNullPrototype: true }),
      metrics: fc.array(
        fc.tuple(
          fc.string(),
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
            fc.stringMatching(/^-?(0|[1-9]\d{0,40})(\.\d{1,40})?$/),
          ),
        ),
      ),
    })
    .map(({ endpointId, ...rest }) => (endpointId === undefined ? rest : { ...rest, endpointId }));

  it("round-trips any event, also through DynamoDB marshalling (property)", () => {
    fc.assert(
      fc.property(eventArbitrary, fc.integer({ min: 0, max: 2 ** 40 }), (event, expiresAt) => {
        const item = toEventItem(event, expiresAt);
        expect(item.expiresAt).toBe(expiresAt);
        expect(fromEventItem(item)).toStrictEqual(event);
        expect(fromEventItem(throughDynamoDb(item))).toStrictEqual(event);
      }),
      { numRuns: 500 },
    );
  });

  const item = toEventItem(EVENT, 1) as unknown as Record<string, unknown>;
  it.each([
    ["pk", { ...item, pk: "5:app-1#user-2" }],
    ["sk", { ...item, sk: 7 }],
    ["ts", { ...item, ts: "1612345678901" }],
    ["ts", { ...item, ts: 1.5 }],
    ["attributes", { ...item, attributes: { a: 1 } }],
    ["attributes", { ...item, attributes: "page=home" }],
    ["attributesJson", { ...item, attributes: undefined, attributesJson: "{" }],
    ["metrics", { ...item, metrics: '{"price":"1"}' }],
    ["metrics", { ...item, metrics: '[["price",1]]' }],
    ["endpointId", { ...item, endpointId: 3 }],
  ])("rejects an item with a bad %s", (field, bad) => {
    expect(() => fromEventItem(bad)).toThrow(InvalidEventItemError);
    expect(() => fromEventItem(bad)).toThrow(expect.objectContaining({ field }));
  });
});
