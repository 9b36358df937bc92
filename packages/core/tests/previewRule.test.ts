import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Operator, PiaEvent, Rule } from "../src/index.js";
import { DAY_MS, Engine, previewRule } from "../src/index.js";

const START = Date.UTC(2021, 0, 1);
const NOW = Date.UTC(2021, 2, 1, 12);

let sequence = 0;

interface EventSpec {
  user?: string;
  app?: string;
  type?: string;
  ts?: number;
  attributes?: Record<string, string>;
  metrics?: Array<[string, string]>;
  id?: string;
}

/** A stored event (what `fromEventItem` gives back), with a fresh identity unless one is given. */
function event(spec: EventSpec = {}): PiaEvent {
  return {
    identity: spec.id ?? `id:e${++sequence}`,
    appId: spec.app ?? "app-1",
    userId: spec.user ?? "u1",
    eventType: spec.type ?? "purchase",
    timestamp: spec.ts ?? START + DAY_MS,
    attributes: spec.attributes ?? {},
    metrics: spec.metrics ?? [],
  };
}

/** `n` events of one user, one a day from `START`. */
function times(n: number, spec: EventSpec = {}): PiaEvent[] {
  return Array.from({ length: n }, (_, index) => event({ ts: START + index * DAY_MS, ...spec }));
}

const price = (value: string): Array<[string, string]> => [["price", value]];

/** A count rule `> 2` on purchases, with fields replaced (`undefined` removes one). */
function rule(overrides: { [K in keyof Rule]?: Rule[K] | undefined } = {}): Rule {
  const fields = {
    id: "r",
    event: "purchase",
    count: { op: ">", value: 2 },
    action: { type: "attribute", name: "r", value: "Ready" },
    reset: false,
    enabled: true,
    ...overrides,
  };
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined),
  ) as unknown as Rule;
}

const preview = (r: Rule, events: PiaEvent[], sampleSize = 20) =>
  previewRule(r, events, { now: NOW, sampleSize });

describe("previewRule", () => {
  it.each<[string, Rule, PiaEvent[], string[]]>([
    [
      "a count rule: users over the target",
      rule(),
      [...times(3, { user: "u1" }), ...times(2, { user: "u2" }), ...times(5, { user: "u3" })],
      ["u1", "u3"],
    ],
    [
      "only the rule's event type",
      rule(),
      [...times(2, { user: "u1" }), event({ user: "u1", type: "view" }), event({ user: "u1", type: "view" })],
      [],
    ],
    [
      "a filter: every listed attribute equal",
      rule({ where: { product: "chair" }, count: { op: ">=", value: 2 } }),
      [
        ...times(2, { user: "u1", attributes: { product: "chair", colour: "red" } }),
        event({ user: "u2", attributes: { product: "chair" } }),
        event({ user: "u2", attributes: { product: "table" } }),
        event({ user: "u2" }),
      ],
      ["u1"],
    ],
    [
      "a window: only events whose UTC day lies in [from, to]",
      rule({ window: { from: "2021-01-02", to: "2021-01-03" }, count: { op: ">=", value: 2 } }),
      [
        event({ user: "u1", ts: Date.UTC(2021, 0, 2) }),
        event({ user: "u1", ts: Date.UTC(2021, 0, 3, 23, 59, 59, 999) }),
        event({ user: "u2", ts: Date.UTC(2021, 0, 1, 23, 59, 59, 999) }),
        event({ user: "u2", ts: Date.UTC(2021, 0, 2) }),
        event({ user: "u2", ts: Date.UTC(2021, 0, 4) }),
      ],
      ["u1"],
    ],
    [
      "events after now are ignored",
      rule({ count: { op: ">=", value: 2 } }),
      [event({ user: "u1", ts: NOW }), event({ user: "u1", ts: NOW + 1 }), ...times(2, { user: "u2" })],
      ["u2"],
    ],
    [
      "exact decimal sums: 0.1 + 0.2 >= 0.3",
      rule({ count: undefined, sum: { metric: "price", op: ">=", value: "0.3" } }),
      [
        event({ user: "u1", metrics: price("0.1") }),
        event({ user: "u1", metrics: price("0.2") }),
        event({ user: "u2", metrics: price("0.29999999999999999999") }),
      ],
      ["u1"],
    ],
    [
      "no metric name: the first metric in record order; a missing metric adds 0",
      rule({ count: undefined, sum: { op: ">", value: "10" } }),
      [
        event({
          user: "u1",
          metrics: [
            ["quantity", "11"],
            ["price", "1"],
          ],
        }),
        event({ user: "u2", metrics: [["price", "6"]] }),
        event({ user: "u2" }),
        event({ user: "u2", metrics: [["price", "4"]] }),
      ],
      ["u1"],
    ],
    [
      "a closing rule: window totals, users with at least one matching event",
      rule({ window: { from: "2021-01-01", to: "2021-12-31" }, count: { op: "<", value: 3 } }),
      [
        ...times(1, { user: "u1" }),
        ...times(2, { user: "u2" }),
        ...times(3, { user: "u3" }),
        event({ user: "u4", ts: Date.UTC(2020, 11, 31) }),
      ],
      ["u1", "u2"],
    ],
    [
      "a lifetime = rule: the user who reached the target on the way, as the engine notifies",
      rule({ count: { op: "=", value: 2 } }),
      [...times(1, { user: "u1" }), ...times(2, { user: "u2" }), ...times(4, { user: "u3" })],
      ["u2", "u3"],
    ],
    [
      "a reset rule: fired at least once",
      rule({ count: { op: ">=", value: 2 }, reset: true }),
      [...times(1, { user: "u1" }), ...times(3, { user: "u2" })],
      ["u2"],
    ],
    [
      "a sum that dropped below the target after it fired (negative metrics) still qualifies",
      rule({ count: undefined, sum: { metric: "price", op: ">", value: "10" } }),
      [
        event({ user: "u1", ts: START, metrics: price("20") }),
        event({ user: "u1", ts: START + DAY_MS, metrics: price("-15") }),
        event({ user: "u2", ts: START, metrics: price("-15") }),
        event({ user: "u2", ts: START + DAY_MS, metrics: price("20") }),
      ],
      ["u1"],
    ],
    ["a disabled rule, as if enabled", rule({ enabled: false }), times(3, { user: "u1" }), ["u1"]],
    [
      "an event stored twice (same user and identity) counts once",
      rule(),
      [
        ...times(2, { user: "u1" }),
        event({ user: "u1", id: "id:same" }),
        event({ user: "u1", id: "id:same" }),
      ],
      ["u1"],
    ],
  ])("%s", (_case, r, events, qualifying) => {
    const result = preview(r, events);
    expect(result.sample.map(({ userId }) => userId)).toStrictEqual(qualifying);
    expect(result.qualifying).toBe(qualifying.length);
  });

  it("replays a user's events in time order, whatever order they are read in", () => {
    const r = rule({ count: undefined, sum: { metric: "price", op: ">", value: "10" } });
    const events = [
      event({ ts: START + DAY_MS, metrics: price("-15") }),
      event({ ts: START, metrics: price("20") }),
    ];
    expect(preview(r, events).qualifying).toBe(1);
    expect(preview(r, [...events].reverse()).qualifying).toBe(1);
  });

  it("counts a user per (app, user id), as counters do", () => {
    const events = [...times(3, { app: "a", user: "u" }), ...times(3, { app: "b", user: "u" })];
    expect(preview(rule(), events).sample).toStrictEqual([
      { appId: "a", userId: "u" },
      { appId: "b", userId: "u" },
    ]);
  });

  it("reports the users seen (of the rule's event type, up to now) and the events matched", () => {
    const r = rule({ where: { product: "chair" } });
    const events = [
      ...times(3, { user: "u1", attributes: { product: "chair" } }),
      event({ user: "u2", attributes: { product: "table" } }),
      event({ user: "u3", type: "view" }),
      event({ user: "u4", ts: NOW + 1 }),
      event({ user: "u1", id: "id:e1" }),
    ];
    expect(preview(r, events)).toStrictEqual({
      qualifying: 1,
      sample: [{ appId: "app-1", userId: "u1" }],
      usersSeen: 2,
      eventsMatched: 3,
    });
  });

  it("samples the first users by app id, then user id, at most sampleSize", () => {
    const users = ["b", "a", "B", "c", "a#1"];
    const events = users.flatMap((user) => times(3, { user, app: user === "c" ? "0" : "app" }));
    expect(preview(rule(), events, 3).sample).toStrictEqual([
      { appId: "0", userId: "c" },
      { appId: "app", userId: "B" },
      { appId: "app", userId: "a" },
    ]);
    expect(preview(rule(), events, 0)).toMatchObject({ qualifying: 5, sample: [] });
    expect(preview(rule(), events, 100).sample).toHaveLength(5);
  });

  it.each([-1, 1.5, Number.NaN])("refuses sampleSize %d", (sampleSize) => {
    expect(() => previewRule(rule(), [], { now: NOW, sampleSize })).toThrow(RangeError);
  });

  it("reads any iterable once, e.g. a generator", () => {
    function* stored() {
      yield* times(3, { user: "u1" });
    }
    expect(preview(rule(), [...stored()]).qualifying).toBe(1);
    expect(previewRule(rule(), stored(), { now: NOW, sampleSize: 1 }).qualifying).toBe(1);
  });
});

describe("previewRule (property)", () => {
  const opArb = fc.constantFrom<Operator>(">", ">=", "=", "<", "<=");
  const dayText = (offset: number) => new Date(START + offset * DAY_MS).toISOString().slice(0, 10);

  const ruleArb = (ops: fc.Arbitrary<Operator>, allowWindow: boolean) =>
    fc
      .record({
        filter: fc.boolean(),
        count: fc.option(fc.record({ op: ops, value: fc.integer({ min: 0, max: 4 }) }), { nil: undefined }),
        sum: fc.option(fc.record({ op: ops, cents: fc.integer({ min: -300, max: 900 }) }), {
          nil: undefined,
        }),
        window: allowWindow
          ? fc.option(fc.tuple(fc.integer({ min: 0, max: 35 }), fc.integer({ min: 0, max: 10 })), {
              nil: undefined,
            })
          : fc.constant(undefined),
        reset: fc.boolean(),
        enabled: fc.boolean(),
      })
      .filter((r) => r.count !== undefined || r.sum !== undefined)
      .filter(
        (r) => r.window !== undefined || ![r.count?.op, r.sum?.op].some((op) => op === "<" || op === "<="),
      )
      .map(
        (r): Rule => ({
          id: "r",
          event: "a",
          ...(r.filter ? { where: { k: "x" } } : {}),
          ...(r.count === undefined ? {} : { count: r.count }),
          ...(r.sum === undefined
            ? {}
            : { sum: { metric: "m", op: r.sum.op, value: (r.sum.cents / 100).toFixed(2) } }),
          ...(r.window === undefined
            ? {}
            : { window: { from: dayText(r.window[0]), to: dayText(r.window[0] + r.window[1]) } }),
          action: { type: "attribute", name: "r", value: "Ready" },
          reset: r.reset && r.window === undefined,
          enabled: r.enabled,
        }),
      );

  const eventsArb = (minCents: number) =>
    fc
      .array(
        fc.record({
          user: fc.constantFrom("u1", "u2", "u3", "u4"),
          app: fc.constantFrom("a", "b"),
          type: fc.constantFrom("a", "b"),
          k: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
          cents: fc.option(fc.integer({ min: minCents, max: 500 }), { nil: undefined }),
          ts: fc.integer({ min: START, max: START + 50 * DAY_MS }),
        }),
        { maxLength: 40 },
      )
      .map((specs) =>
        specs.map(
          (spec, index): PiaEvent => ({
            identity: `id:${index}`,
            appId: spec.app,
            userId: spec.user,
            eventType: spec.type,
            timestamp: spec.ts,
            attributes: spec.k === undefined ? {} : { k: spec.k },
            metrics: spec.cents === undefined ? [] : [["m", (spec.cents / 100).toFixed(2)]],
          }),
        ),
      );

  it("qualifies exactly the users the engine notifies on the same events in time order", () => {
    fc.assert(
      fc.property(
        ruleArb(opArb, true),
        eventsArb(-200),
        fc.integer({ min: START + 20 * DAY_MS, max: START + 60 * DAY_MS }),
        (r, events, now) => {
          const known = events
            .filter((e) => e.timestamp <= now)
            .sort((x, y) => x.timestamp - y.timestamp || (x.identity < y.identity ? -1 : 1));
          const engine = new Engine([{ ...r, enabled: true }]);
          const notified = known.flatMap((e) => engine.apply(e));
          // Every window closed: the engine decides closing rules on the same totals.
          notified.push(...engine.close(START + 100 * DAY_MS));
          const expected = [...new Set(notified.map((n) => `${n.appId}/${n.userId}`))].sort();

          const result = previewRule(r, events, { now, sampleSize: 100 });
          expect(result.sample.map((u) => `${u.appId}/${u.userId}`)).toStrictEqual(expected);
          expect(result.qualifying).toBe(expected.length);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("is the condition on each user's totals for > and >= rules on metrics >= 0 (naive model)", () => {
    fc.assert(
      fc.property(ruleArb(fc.constantFrom<Operator>(">", ">="), false), eventsArb(0), (r, events) => {
        const compare = (left: number, op: Operator, right: number) =>
          op === ">" ? left > right : left >= right;
        const expected: string[] = [];
        for (const app of ["a", "b"]) {
          for (const user of ["u1", "u2", "u3", "u4"]) {
            const matching = events.filter(
              (e) =>
                e.appId === app &&
                e.userId === user &&
                e.eventType === "a" &&
                (r.where === undefined || e.attributes.k === "x"),
            );
            const cents = matching.reduce(
              (total, e) => total + Math.round(Number(e.metrics[0]?.[1] ?? 0) * 100),
              0,
            );
            const target = Math.round(Number(r.sum?.value ?? 0) * 100);
            if (
              matching.length > 0 &&
              (r.count === undefined || compare(matching.length, r.count.op, r.count.value)) &&
              (r.sum === undefined || compare(cents, r.sum.op, target))
            ) {
              expected.push(`${app}/${user}`);
            }
          }
        }
        const result = previewRule(r, events, { now: START + 100 * DAY_MS, sampleSize: 100 });
        expect(result.sample.map((u) => `${u.appId}/${u.userId}`)).toStrictEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
