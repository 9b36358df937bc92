import { describe, expect, it } from "vitest";
import type { Notification, Rule } from "../src/index.js";
import { Engine, MAX_RECORD_BYTES } from "../src/index.js";
import { record, rule, utc } from "./fixtures.js";

const DAY = (d: number, time = "12:00:00.000") => utc(`2021-01-${String(d).padStart(2, "0")}T${time}`);

function run(rules: Rule[], lines: string[], now = utc("2100-01-01T00:00:00")): Notification[] {
  const engine = new Engine(rules);
  const fired = lines.flatMap((line) => engine.ingest(line));
  return [...fired, ...engine.close(now)];
}

const firedAt = (notifications: Notification[]) => notifications.map((n) => `${n.userId}@${n.at}`);

describe("streaming lifetime rules", () => {
  it.each([
    { name: "count > 3 fires on the 4th event", r: { count: { op: ">", value: 3 } }, n: 6, at: [4] },
    { name: "count >= 3 fires on the 3rd event", r: { count: { op: ">=", value: 3 } }, n: 6, at: [3] },
    { name: "count = 2 fires on the 2nd event", r: { count: { op: "=", value: 2 } }, n: 6, at: [2] },
    { name: "count > 3 with fewer events never fires", r: { count: { op: ">", value: 3 } }, n: 3, at: [] },
    {
      name: "reset count = 5 fires at 5 and 10",
      r: { count: { op: "=", value: 5 }, reset: true },
      n: 12,
      at: [5, 10],
    },
    {
      name: "reset count > 3 fires at 4 and 8",
      r: { count: { op: ">", value: 3 }, reset: true },
      n: 9,
      at: [4, 8],
    },
    {
      name: "reset count >= 1 fires on every event",
      r: { count: { op: ">=", value: 1 }, reset: true },
      n: 3,
      at: [1, 2, 3],
    },
  ] as const)("$name", ({ r, n, at }) => {
    const rules = [rule({ id: "r", event: "pageview", ...(r as Partial<Rule>) })];
    const lines = Array.from({ length: n }, (_, i) => record({ type: "pageview", ts: DAY(1) + i }));
    expect(firedAt(run(rules, lines))).toEqual(
      at.map((i) => `user-1@${new Date(DAY(1) + i - 1).toISOString()}`),
    );
  });

  it("sums exact decimals: 0.1 + 0.2 = 0.3", () => {
    const rules = [rule({ id: "r", event: "purchase", sum: { metric: "price", op: "=", value: "0.3" } })];
    const lines = [0.1, 0.2].map((price, i) => record({ ts: DAY(1) + i, metrics: { price } }));
    expect(run(rules, lines)).toHaveLength(1);
  });

  it("keeps more digits than a double holds", () => {
    const rules = [rule({ id: "r", event: "purchase", sum: { op: ">", value: "12345678901234567890.1" } })];
    const big =
      '{"event_type":"purchase","event_timestamp":1,"endpoint":{"User":{"UserId":"u"}},"metrics":{"price":12345678901234567890.1000000001}}';
    const exact =
      '{"event_type":"purchase","event_timestamp":2,"endpoint":{"User":{"UserId":"v"}},"metrics":{"price":12345678901234567890.1}}';
    expect(run(rules, [big, exact]).map((n) => n.userId)).toEqual(["u"]);
  });

  it("sums the first metric in the order the record lists them, even integer-like keys", () => {
    const rules = [rule({ id: "r", event: "purchase", sum: { op: ">", value: "6" } })];
    const line =
      '{"event_type":"purchase","event_timestamp":1,"endpoint":{"User":{"UserId":"u"}},"metrics":{"b":5,"7":100}}';
    expect(run(rules, [line])).toEqual([]);
    expect(run(rules, [line, line.replace('"event_timestamp":1', '"event_timestamp":2')])).toHaveLength(1);
  });

  it("adds 0 for a missing metric but still counts the event", () => {
    const rules = [
      rule({
        id: "r",
        event: "purchase",
        count: { op: ">=", value: 2 },
        sum: { metric: "price", op: ">=", value: "10" },
      }),
    ];
    const lines = [record({ ts: 1, metrics: { price: 10 } }), record({ ts: 2, metrics: { quantity: 99 } })];
    expect(firedAt(run(rules, lines))).toEqual(["user-1@1970-01-01T00:00:00.002Z"]);
  });

  it("ANDs count and sum on running totals", () => {
    const rules = [
      rule({
        id: "r",
        event: "purchase",
        count: { op: ">", value: 1 },
        sum: { metric: "price", op: ">", value: "100" },
      }),
    ];
    const lines = [150, 1, 1].map((price, i) => record({ ts: i + 1, metrics: { price } }));
    expect(firedAt(run(rules, lines))).toEqual(["user-1@1970-01-01T00:00:00.002Z"]);
  });

  it("a lifetime '=' that is passed without being met never fires", () => {
    const rules = [
      rule({ id: "r", event: "purchase", count: { op: "=", value: 2 }, sum: { op: ">", value: "100" } }),
    ];
    const lines = [10, 10, 500].map((price, i) => record({ ts: i + 1, metrics: { price } }));
    expect(run(rules, lines)).toEqual([]);
  });

  it("reset sets the sum back to 0 too", () => {
    const rules = [rule({ id: "r", event: "purchase", sum: { op: ">=", value: "100" }, reset: true })];
    const lines = [150, 60, 60].map((price, i) => record({ ts: i + 1, metrics: { price } }));
    expect(firedAt(run(rules, lines))).toEqual([
      "user-1@1970-01-01T00:00:00.001Z",
      "user-1@1970-01-01T00:00:00.003Z",
    ]);
  });
});

describe("matching", () => {
  it.each([
    { name: "exact event type", type: "pageview", attrs: {}, fires: true },
    { name: "event type is case-sensitive", type: "PageView", attrs: {}, fires: false },
    { name: "spaces in event types matter", type: "pageview ", attrs: {}, fires: false },
  ])("$name", ({ type, attrs, fires }) => {
    const rules = [rule({ id: "r", event: "pageview", count: { op: ">=", value: 1 } })];
    expect(run(rules, [record({ type, attributes: attrs })])).toHaveLength(fires ? 1 : 0);
  });

  it.each([
    { name: "equal value", attrs: { page: "pricing" }, fires: true },
    { name: "value is case-sensitive", attrs: { page: "Pricing" }, fires: false },
    { name: "missing attribute", attrs: {}, fires: false },
    { name: "non-string value never equals", attrs: { page: 5 }, fires: false, where: { page: "5" } },
    {
      name: "every where attribute must match",
      attrs: { page: "pricing" },
      fires: false,
      where: { page: "pricing", plan: "gold" },
    },
  ])("where: $name", ({ attrs, fires, where }) => {
    const rules = [
      rule({
        id: "r",
        event: "pageview",
        where: where ?? { page: "pricing" },
        count: { op: ">=", value: 1 },
      }),
    ];
    expect(run(rules, [record({ type: "pageview", attributes: attrs })])).toHaveLength(fires ? 1 : 0);
  });

  it("counts per user across endpoints, and per app", () => {
    const rules = [rule({ id: "r", event: "pageview", count: { op: ">=", value: 2 } })];
    const lines = [
      record({ type: "pageview", endpoint: "phone", ts: 1 }),
      record({ type: "pageview", endpoint: "laptop", ts: 2 }),
      record({ type: "pageview", app: "app-2", ts: 3 }),
    ];
    expect(run(rules, lines).map((n) => [n.appId, n.userId])).toEqual([["app-1", "user-1"]]);
  });

  it("applies every rule on an event, and rules with the same action name each notify", () => {
    const rules = [
      rule({
        id: "a",
        event: "pageview",
        count: { op: ">=", value: 1 },
        action: { type: "attribute", name: "x", value: "Ready" },
      }),
      rule({
        id: "b",
        event: "pageview",
        count: { op: ">=", value: 1 },
        action: { type: "attribute", name: "x", value: "Ready" },
      }),
    ];
    expect(run(rules, [record({ type: "pageview" })]).map((n) => n.ruleId)).toEqual(["a", "b"]);
  });

  it("ignores disabled rules", () => {
    const rules = [rule({ id: "r", event: "pageview", count: { op: ">=", value: 1 }, enabled: false })];
    expect(run(rules, [record({ type: "pageview" })])).toEqual([]);
  });
});

describe("windows", () => {
  const window = { from: "2021-01-10", to: "2021-01-20" };
  it.each([
    { name: "first millisecond of from", ts: "2021-01-10T00:00:00.000", counts: true },
    { name: "last millisecond before from", ts: "2021-01-09T23:59:59.999", counts: false },
    { name: "last millisecond of to", ts: "2021-01-20T23:59:59.999", counts: true },
    { name: "the day after to", ts: "2021-01-21T00:00:00.000", counts: false },
  ])("$name", ({ ts, counts }) => {
    const rules = [rule({ id: "r", event: "purchase", window, count: { op: ">", value: 0 } })];
    const fired = run(rules, [record({ ts: utc(ts) })]);
    expect(fired.map((n) => n.at)).toEqual(counts ? [new Date(utc(ts)).toISOString()] : []);
  });

  it("streaming window rules count late events, fire once, and ignore reset", () => {
    const rules = [rule({ id: "r", event: "purchase", window, count: { op: ">=", value: 2 }, reset: true })];
    const lines = [
      record({ ts: utc("2021-02-15T00:00:00") }),
      record({ ts: utc("2021-01-11T00:00:00") }),
      record({ ts: utc("2021-01-12T00:00:00") }),
      record({ ts: utc("2021-01-13T00:00:00") }),
      record({ ts: utc("2021-01-14T00:00:00") }),
    ];
    expect(firedAt(run(rules, lines))).toEqual(["user-1@2021-01-12T00:00:00.000Z"]);
  });

  describe("closing rules", () => {
    const closing = rule({ id: "few", event: "purchase", window, count: { op: "<", value: 3 } });
    const lines = [
      record({ user: "one", ts: utc("2021-01-10T00:00:00") }),
      record({ user: "three", ts: utc("2021-01-11T00:00:00") }),
      record({ user: "three", ts: utc("2021-01-12T00:00:00") }),
      record({ user: "three", ts: utc("2021-01-13T00:00:00") }),
      record({ user: "outside", ts: utc("2021-01-21T00:00:00") }),
    ];

    it.each([
      { now: "2021-01-20T23:59:59.999", users: [] },
      { now: "2021-01-21T00:00:00.000", users: ["one"] },
      { now: "2030-01-01T00:00:00.000", users: ["one"] },
    ])("decided at now >= to + 1 day only (now $now)", ({ now, users }) => {
      const fired = run([closing], lines, utc(now));
      expect(fired.map((n) => n.userId)).toEqual(users);
      for (const n of fired) expect(n.at).toBe("2021-01-20T23:59:59.999Z");
    });

    it("decides once: later events and later runs change nothing", () => {
      const engine = new Engine([closing]);
      for (const line of lines) engine.ingest(line);
      expect(engine.close(utc("2021-01-22T00:00:00"))).toHaveLength(1);
      expect(engine.ingest(record({ user: "late", ts: utc("2021-01-15T00:00:00") }))).toEqual([]);
      expect(engine.close(utc("2021-01-23T00:00:00"))).toEqual([]);
    });

    it.each([
      { name: "= on the sum", r: { sum: { metric: "price", op: "=", value: "0.3" } }, users: ["a"] },
      { name: "<= on the sum", r: { sum: { metric: "price", op: "<=", value: "0.3" } }, users: ["a", "b"] },
      {
        name: "> count with = sum",
        r: { count: { op: ">", value: 1 }, sum: { op: "=", value: "0.3" } },
        users: ["a"],
      },
    ])("$name uses the window's totals", ({ r, users }) => {
      const rules = [rule({ id: "r", event: "purchase", window, ...(r as Partial<Rule>) })];
      const events = [
        record({ user: "a", ts: utc("2021-01-10T00:00:00"), metrics: { price: 0.1 } }),
        record({ user: "a", ts: utc("2021-01-10T00:00:01"), metrics: { price: 0.2 } }),
        record({ user: "b", ts: utc("2021-01-10T00:00:01"), metrics: { price: 0.2 } }),
        record({ user: "a", ts: utc("2021-01-21T00:00:00"), metrics: { price: 5 } }),
      ];
      expect(run(rules, events).map((n) => n.userId)).toEqual(users);
    });
  });
});

describe("records", () => {
  it("counts a redelivery once (arrival_timestamp is not part of identity)", () => {
    const rules = [rule({ id: "r", event: "purchase", count: { op: ">=", value: 2 } })];
    const lines = [record({ ts: 1, arrival: 10 }), record({ ts: 1, arrival: 99 })];
    const engine = new Engine(rules);
    expect(lines.flatMap((line) => engine.ingest(line))).toEqual([]);
    expect(engine.summary()).toMatchObject({ records: 2, applied: 1, duplicate: 1 });
  });

  it("the first record with an event_id wins", () => {
    const rules = [rule({ id: "r", event: "purchase", sum: { metric: "price", op: ">", value: "50" } })];
    const lines = [
      record({ eventId: "e1", ts: 1, metrics: { price: 10 } }),
      record({ eventId: "e1", ts: 2, metrics: { price: 90 } }),
    ];
    expect(run(rules, lines)).toEqual([]);
  });

  it("every record lands in exactly one count", () => {
    const engine = new Engine([]);
    const lines = [
      "not json",
      "[1]",
      record({ type: "_session.start" }),
      record({ type: "trk_pageview" }),
      record({ user: null }),
      record({ ts: "1" }),
      record({ metrics: { price: "1" } }),
      record({ ts: 5 }),
      record({ ts: 5 }),
      `${record({ ts: 6 }).slice(0, -1)},"pad":"${"x".repeat(MAX_RECORD_BYTES)}"}`,
    ];
    for (const line of lines) engine.ingest(line);
    // A line the reader discarded unread (over the limit) still counts as one record.
    engine.skipUnread("too_large");
    expect(engine.summary()).toEqual({
      records: 11,
      applied: 1,
      duplicate: 1,
      ignored: 2,
      skipped: { too_large: 2, bad_json: 1, bad_event: 1, no_user: 1, bad_timestamp: 1, bad_metric: 1 },
      notifications: 0,
      notificationsByRule: {},
    });
  });

  it("notifies with the contract's fields", () => {
    const rules = [
      rule({ id: "attr", event: "purchase", count: { op: ">=", value: 1 } }),
      rule({
        id: "evt",
        event: "purchase",
        count: { op: ">=", value: 1 },
        reset: true,
        action: { type: "event", name: "trk_purchase" },
      }),
    ];
    expect(run(rules, [record({ ts: utc("2021-01-31T23:59:59.999") })])).toEqual([
      {
        appId: "app-1",
        userId: "user-1",
        ruleId: "attr",
        type: "attribute",
        name: "attr",
        value: "Ready",
        at: "2021-01-31T23:59:59.999Z",
        endpointId: "ep-1",
      },
      {
        appId: "app-1",
        userId: "user-1",
        ruleId: "evt",
        type: "event",
        name: "trk_purchase",
        at: "2021-01-31T23:59:59.999Z",
        endpointId: "ep-1",
      },
    ]);
  });
});
