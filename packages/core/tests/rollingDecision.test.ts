import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CompiledRule, Operator, RollingRule, RollingState, Rule } from "../src/index.js";
import {
  advanceClock,
  applyMatches,
  compileRule,
  Engine,
  formatNotification,
  isSettled,
  nextDue,
  parseRulesFile,
  WindowNotLoadedError,
  windowFrontNeeded,
  ZERO,
} from "../src/index.js";
import { rule } from "./fixtures.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Every instant below is an offset from here. */
const T0 = Date.UTC(2021, 0, 1);

const rolling = (spec: Partial<Rule>): RollingRule => {
  const compiled = compileRule(rule({ id: "r", event: "lesson", ...spec }));
  if (compiled.kind !== "rolling") throw new Error("expected a rolling rule");
  return compiled;
};

const EVENT_ACTION = { type: "event", name: "trk_r" } as const;

/** An event as (offset from T0 in ms, metric text). */
type At = readonly [number, string?];

/** What a firing says, with `at` as an offset from T0, and whether an event (not time) fired it. */
interface Said {
  at: number;
  seq: number;
  value?: string;
  byEvent: boolean;
}

/** Applies the events one by one, in the order given (input order), then brings the state to `now`. */
function run(compiled: RollingRule, events: readonly At[], now: number) {
  let state: RollingState | undefined;
  const said: Said[] = [];
  const record = (firings: readonly { at: number; seq: number; value?: string; match?: unknown }[]) => {
    for (const { at, seq, value, match } of firings) {
      said.push({
        at: at - T0,
        seq,
        ...(value === undefined ? {} : { value }),
        byEvent: match !== undefined,
      });
    }
  };
  for (const [offset, metric] of events) {
    const step = applyMatches(compiled, state, [{ timestamp: T0 + offset, metric }]);
    record(step.firings);
    state = step.state;
  }
  if (state === undefined) throw new Error("no events");
  const end = advanceClock(compiled, state, T0 + now);
  record(end.firings);
  return { said, state: end.state };
}

const enter = (at: number, seq: number, byEvent: boolean, value = "Ready"): Said => ({
  at,
  seq,
  value,
  byEvent,
});
const exit = (at: number, seq: number, byEvent: boolean): Said => ({ at, seq, value: "", byEvent });
const fire = (at: number, seq: number): Said => ({ at, seq, byEvent: true });

describe("rolling windows: the examples of docs/rules.md 4.4", () => {
  it.each<{ name: string; rule: RollingRule; events: At[]; now: number; said: Said[] }>([
    {
      name: "count > 5 in 7d enters with the 6th event within 7 days, exits when fewer than 6 remain",
      rule: rolling({ count: { op: ">", value: 5 }, window: { last: "7d" } }),
      events: [[0], [DAY], [2 * DAY], [3 * DAY], [4 * DAY], [5 * DAY]],
      now: 30 * DAY,
      said: [enter(5 * DAY, 1, true), exit(7 * DAY, 2, false)],
    },
    {
      name: "count > 5 in 7d: six events spanning exactly 7 days are never 6 at once (the window is (t - L, t])",
      rule: rolling({ count: { op: ">", value: 5 }, window: { last: "7d" } }),
      events: [[0], [DAY], [2 * DAY], [3 * DAY], [4 * DAY], [7 * DAY]],
      now: 30 * DAY,
      said: [],
    },
    {
      name: "count = 0 in 14d (lapsed) enters 14 days after the latest event and exits at the next one",
      rule: rolling({ count: { op: "=", value: 0 }, window: { last: "14d" } }),
      events: [[0], [3 * DAY], [20 * DAY]],
      now: 40 * DAY,
      said: [enter(17 * DAY, 1, false), exit(20 * DAY, 2, true), enter(34 * DAY, 3, false)],
    },
    {
      name: "count < 2 in 7d enters at the first event, exits at the second, enters again as they expire",
      rule: rolling({ count: { op: "<", value: 2 }, window: { last: "7d" } }),
      events: [[0], [DAY]],
      now: 30 * DAY,
      said: [enter(0, 1, true), exit(DAY, 2, true), enter(7 * DAY, 3, false)],
    },
    {
      name: "count >= 4 in 36h with reset fires at every 4th event within 36 hours",
      rule: rolling({
        count: { op: ">=", value: 4 },
        window: { last: "36h" },
        action: EVENT_ACTION,
        reset: true,
      }),
      events: [
        [0],
        [10 * HOUR],
        [20 * HOUR],
        [30 * HOUR],
        [40 * HOUR],
        [50 * HOUR],
        [60 * HOUR],
        [70 * HOUR],
      ],
      now: 30 * DAY,
      said: [fire(30 * HOUR, 1), fire(70 * HOUR, 2)],
    },
    {
      name: "count >= 4 in 36h with reset: an event that expired before the 4th does not count",
      rule: rolling({
        count: { op: ">=", value: 4 },
        window: { last: "36h" },
        action: EVENT_ACTION,
        reset: true,
      }),
      events: [[0], [10 * HOUR], [20 * HOUR], [40 * HOUR], [45 * HOUR]],
      now: 30 * DAY,
      said: [fire(45 * HOUR, 1)],
    },
  ])("$name", ({ rule: compiled, events, now, said }) => {
    expect(run(compiled, events, now).said).toEqual(said);
  });
});

describe("rolling windows: time, lateness and order", () => {
  const twoInADay = rolling({ count: { op: ">", value: 1 }, window: { last: "24h" } });
  it.each<{ name: string; rule: RollingRule; events: At[]; now: number; said: Said[]; kept: number[] }>([
    {
      name: "an event late by less than L is counted, and decided at w rather than back in time",
      rule: twoInADay,
      events: [[10 * HOUR], [5 * HOUR]],
      now: 40 * HOUR,
      said: [enter(10 * HOUR, 1, true), exit(29 * HOUR, 2, false)],
      kept: [],
    },
    {
      name: "an event late by L or more counts nowhere; one just inside counts",
      rule: twoInADay,
      events: [[30 * HOUR], [6 * HOUR], [6 * HOUR + 1]],
      now: 30 * HOUR,
      said: [enter(30 * HOUR, 1, true)],
      kept: [6 * HOUR + 1, 30 * HOUR],
    },
    {
      name: "expiries before an event pass first: out at 24h, then the event at 30h finds one left",
      rule: twoInADay,
      events: [[0], [HOUR], [30 * HOUR]],
      now: 30 * HOUR,
      said: [enter(HOUR, 1, true), exit(24 * HOUR, 2, false)],
      kept: [30 * HOUR],
    },
    {
      name: "two events in one millisecond enter together and leave at one expiry instant",
      rule: rolling({ count: { op: ">", value: 1 }, window: { last: "1h" } }),
      events: [[0], [0]],
      now: DAY,
      said: [enter(0, 1, true), exit(HOUR, 2, false)],
      kept: [],
    },
    {
      name: "an entry and an exit at one instant are ordered by seq (count = 1, two events in a millisecond)",
      rule: rolling({ count: { op: "=", value: 1 }, window: { last: "1h" } }),
      events: [[0], [0]],
      now: 0,
      said: [enter(0, 1, true), exit(0, 2, true)],
      kept: [0, 0],
    },
    {
      name: "advanceClock processes an expiry instant equal to now, not one after it",
      rule: twoInADay,
      events: [[0], [HOUR]],
      now: 24 * HOUR,
      said: [enter(HOUR, 1, true), exit(24 * HOUR, 2, false)],
      kept: [HOUR],
    },
    {
      name: "sums are exact over the window: 0.1 + 0.2 reaches 0.3, and leaves it when 0.1 expires",
      rule: rolling({ sum: { metric: "m", op: ">=", value: "0.3" }, window: { last: "1h" } }),
      events: [
        [0, "0.1"],
        [60_000, "0.2"],
      ],
      now: HOUR + 30_000,
      said: [enter(60_000, 1, true), exit(HOUR, 2, false)],
      kept: [60_000],
    },
    {
      name: "an event action says nothing on exit, and fires again when the user comes back",
      rule: rolling({ count: { op: ">", value: 1 }, window: { last: "1h" }, action: EVENT_ACTION }),
      events: [[0], [60_000], [5 * HOUR], [5 * HOUR]],
      now: DAY,
      said: [fire(60_000, 1), fire(5 * HOUR, 2)],
      kept: [],
    },
  ])("$name", ({ rule: compiled, events, now, said, kept }) => {
    const result = run(compiled, events, now);
    expect(result.said).toEqual(said);
    expect(result.state.events.map(({ at }) => at - T0)).toEqual(kept);
  });

  it("a too-late event leaves the state as it was", () => {
    const { state } = run(twoInADay, [[30 * HOUR]], 30 * HOUR);
    const step = applyMatches(twoInADay, state, [{ timestamp: T0 + 6 * HOUR, metric: undefined }]);
    expect(step).toEqual({ state, firings: [] });
  });

  it("leaves every earlier state as it was: applying twice to one state, or to a state of plain data", () => {
    const at = (hours: number) => ({ timestamp: T0 + hours * HOUR, metric: undefined });
    const times = (state: RollingState) => state.events.map((event) => (event.at - T0) / HOUR);
    const base = applyMatches(twoInADay, undefined, [at(1), at(2)]).state;
    const later = applyMatches(twoInADay, base, [at(3)]).state;
    const branch = applyMatches(twoInADay, base, [at(4), at(1.5)]).state;
    expect([times(base), times(later), times(branch)]).toEqual([
      [1, 2],
      [1, 2, 3],
      [1, 1.5, 2, 4],
    ]);
    // As a store would give it back: plain data, its array frozen so that any write would throw.
    const plain: RollingState = {
      kind: "rolling",
      events: Object.freeze([...base.events]),
      count: base.count,
      sum: base.sum,
      in: base.in,
      w: base.w,
      notified: base.notified,
    };
    const step = applyMatches(twoInADay, plain, [at(30)]);
    expect(times(step.state)).toEqual([30]);
    expect(step.firings).toEqual([{ at: T0 + 25 * HOUR, seq: 2, value: "" }]);
  });

  it("nextDue is the earliest pending expiry instant, none once the window is empty", () => {
    const first = applyMatches(twoInADay, undefined, [
      { timestamp: T0 + 2 * HOUR, metric: undefined },
      { timestamp: T0 + HOUR, metric: undefined },
    ]).state;
    expect(nextDue(twoInADay, first)).toBe(T0 + 25 * HOUR);
    const emptied = advanceClock(twoInADay, first, T0 + 26 * HOUR).state;
    expect(emptied.events).toEqual([]);
    expect(nextDue(twoInADay, emptied)).toBeUndefined();
    expect(isSettled(twoInADay, emptied)).toBe(false);
  });

  it("refuses a lifetime rule's totals as a rolling state, rather than decide on them", () => {
    const general: CompiledRule = twoInADay;
    expect(() => applyMatches(general, { count: 1, sum: ZERO, fired: false }, [])).toThrow(
      /rolling window: its state must be a RollingState/,
    );
  });
});

/** The brute-force model: the condition over the events with time in (t - L, t]. */
function holdsAt(
  condition: { op: Operator; value: number; sum: { op: Operator; value: number } | undefined },
  events: readonly { at: number; m: number }[],
  t: number,
  length: number,
): { holds: boolean; inside: number } {
  const inside = events.filter(({ at }) => at > t - length && at <= t);
  const compare = (left: number, op: Operator, right: number) =>
    ({ ">": left > right, ">=": left >= right, "=": left === right, "<": left < right, "<=": left <= right })[
      op
    ];
  const sum = inside.reduce((total, { m }) => total + m, 0);
  const holds =
    compare(inside.length, condition.op, condition.value) &&
    (condition.sum === undefined || compare(sum, condition.sum.op, condition.sum.value));
  return { holds, inside: inside.length };
}

describe("rolling windows against a brute-force model", () => {
  const op = fc.constantFrom<Operator>(">", ">=", "=", "<", "<=");
  it("in order, without reset: the user is in exactly when the condition holds over (t - L, t]", () => {
    fc.assert(
      fc.property(
        fc.record({
          hours: fc.integer({ min: 1, max: 12 }),
          op,
          value: fc.integer({ min: 0, max: 4 }),
          sum: fc.option(fc.record({ op, value: fc.integer({ min: 0, max: 6 }) }), { nil: undefined }),
          // Minutes on a 2-day stretch: ties and exact expiry instants happen often.
          events: fc.array(
            fc.record({ minute: fc.integer({ min: 0, max: 48 * 60 }), m: fc.integer({ min: 0, max: 3 }) }),
            {
              minLength: 1,
              maxLength: 80,
            },
          ),
          probes: fc.array(fc.integer({ min: 0, max: 72 * 60 }), { minLength: 1, maxLength: 10 }),
        }),
        ({ hours, op: countOp, value, sum, events, probes }) => {
          const compiled = rolling({
            count: { op: countOp, value },
            ...(sum === undefined ? {} : { sum: { metric: "m", op: sum.op, value: String(sum.value) } }),
            window: { last: `${hours}h` },
          });
          const length = hours * HOUR;
          const timed = events
            .map(({ minute, m }) => ({ at: minute * 60_000, m }))
            .sort((a, b) => a.at - b.at);
          let state: RollingState | undefined;
          let seq = 0;
          let applied = 0;
          const check = (firings: readonly { seq: number; value?: string }[]) => {
            for (const firing of firings) expect(firing.seq).toBe(++seq);
          };
          for (const t of [...probes].map((minute) => minute * 60_000).sort((a, b) => a - b)) {
            while (applied < timed.length && (timed[applied]?.at ?? 0) <= t) {
              const event = timed[applied++];
              if (event === undefined) break;
              const step = applyMatches(compiled, state, [{ timestamp: event.at, metric: String(event.m) }]);
              check(step.firings);
              state = step.state;
            }
            if (state === undefined) continue;
            const step = advanceClock(compiled, state, t);
            check(step.firings);
            state = step.state;
            const model = holdsAt({ op: countOp, value, sum }, timed.slice(0, applied), t, length);
            expect(state.in).toBe(model.holds);
            // Memory: exactly the events still inside the window are kept.
            expect(state.events.length).toBe(model.inside);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("docs/examples/rolling-*.yaml/ndjson (docs/rules.md 4.4)", () => {
  it("gives the notifications the docs show, each state's in seq order", () => {
    const examples = new URL("../../../docs/examples/", import.meta.url);
    const { rules } = parseRulesFile(
      "rolling-rules.yaml",
      readFileSync(new URL("rolling-rules.yaml", examples), "utf8"),
    );
    const engine = new Engine(rules);
    const lines: string[] = [];
    for (const line of readFileSync(new URL("rolling-events.ndjson", examples), "utf8").split("\n")) {
      if (line !== "") lines.push(...engine.ingest(line).map(formatNotification));
    }
    lines.push(...engine.close(Date.UTC(2021, 3, 1)).map(formatNotification));
    const said = lines.map((line) => {
      const { userId, ruleId, value, at, seq } = JSON.parse(line) as Record<string, unknown>;
      return `${userId} ${ruleId} ${String(value ?? "(event)")} ${at} ${seq}`;
    });
    expect(said.sort()).toEqual([
      "ana active  2021-03-08T09:00:00.000Z 2",
      "ana active Ready 2021-03-06T09:00:00.000Z 1",
      "ben lapsed  2021-03-20T12:00:00.000Z 2",
      "ben lapsed Ready 2021-03-15T12:00:00.000Z 1",
      "cy needs-nudge  2021-03-12T18:00:00.000Z 2",
      "cy needs-nudge Ready 2021-03-10T18:00:00.000Z 1",
      "cy needs-nudge Ready 2021-03-17T18:00:00.000Z 3",
      "dee quiz-streak (event) 2021-03-02T06:00:00.000Z 1",
      "dee quiz-streak (event) 2021-03-03T20:00:00.000Z 2",
    ]);
  });
});

/**
 * The state a store gives back: the summary of `state` with only the front of the window (`all`,
 * every event of the window, as the store keeps them) that a step up to `until` needs.
 */
function front(compiled: RollingRule, state: RollingState, all: RollingState, until: number): RollingState {
  const { through } = windowFrontNeeded(compiled, until);
  const events = all.events;
  let end = 0;
  while (end < events.length && (events[end]?.at ?? 0) <= through) end++;
  if (end < events.length) end++;
  return {
    kind: "rolling",
    events: Object.freeze(events.slice(0, end)),
    count: state.count,
    sum: state.sum,
    in: state.in,
    w: state.w,
    notified: state.notified,
  };
}

describe("rolling windows from the front of the window only (what the pipeline loads)", () => {
  const op = fc.constantFrom<Operator>(">", ">=", "=", "<", "<=");
  it("decides as the whole window does, late events, ties, batches, resets and clock steps included", () => {
    fc.assert(
      fc.property(
        fc.record({
          hours: fc.integer({ min: 1, max: 6 }),
          op,
          value: fc.integer({ min: 0, max: 4 }),
          sum: fc.option(fc.record({ op, value: fc.integer({ min: -2, max: 6 }) }), { nil: undefined }),
          reset: fc.boolean(),
          // Batches of events in input order (late ones too), each followed by a clock step.
          batches: fc.array(
            fc.record({
              minutes: fc.array(
                fc.record({
                  minute: fc.integer({ min: 0, max: 24 * 60 }),
                  m: fc.integer({ min: -2, max: 3 }),
                }),
                { minLength: 1, maxLength: 12 },
              ),
              clock: fc.integer({ min: 0, max: 12 * 60 }),
            }),
            { minLength: 1, maxLength: 12 },
          ),
        }),
        ({ hours, op: countOp, value, sum, reset, batches }) => {
          const resets =
            reset &&
            (countOp === ">" || countOp === ">=") &&
            (sum === undefined || sum.op === ">" || sum.op === ">=");
          const compiled = rolling({
            count: { op: countOp, value },
            ...(sum === undefined ? {} : { sum: { metric: "m", op: sum.op, value: String(sum.value) } }),
            window: { last: `${hours}h` },
            ...(resets ? { reset: true, action: EVENT_ACTION } : {}),
          });
          let whole: RollingState | undefined;
          let part: RollingState | undefined;
          let now = 0;
          for (const batch of batches) {
            const matches = batch.minutes.map(({ minute, m }) => ({
              timestamp: T0 + minute * 60_000,
              metric: String(m),
            }));
            const until = Math.max(whole?.w ?? 0, ...matches.map((match) => match.timestamp));
            const a = applyMatches(compiled, whole, matches);
            const b = applyMatches(
              compiled,
              part === undefined || whole === undefined ? undefined : front(compiled, part, whole, until),
              matches,
            );
            expect(b.firings).toEqual(a.firings);
            whole = a.state;
            part = b.state;
            now = Math.max(now, whole.w) + batch.clock * 60_000;
            const c = advanceClock(compiled, whole, now);
            const d = advanceClock(compiled, front(compiled, part, whole, now), now);
            expect(d.firings).toEqual(c.firings);
            whole = c.state;
            part = d.state;
            const summary = (state: RollingState) => ({
              count: state.count,
              sum: state.sum.toString(),
              in: state.in,
              w: state.w,
              notified: state.notified,
            });
            expect(summary(part)).toEqual(summary(whole));
            expect(nextDue(compiled, front(compiled, part, whole, now))).toBe(nextDue(compiled, whole));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("refuses a step that needs an event the state does not carry", () => {
    const compiled = rolling({ count: { op: ">", value: 1 }, window: { last: "1h" } });
    const full = applyMatches(compiled, undefined, [
      { timestamp: T0, metric: undefined },
      { timestamp: T0 + 60_000, metric: undefined },
    ]).state;
    const bare: RollingState = { ...front(compiled, full, full, T0), events: [] };
    expect(() => advanceClock(compiled, bare, T0 + 2 * HOUR)).toThrow(WindowNotLoadedError);
    expect(() => nextDue(compiled, bare)).toThrow(WindowNotLoadedError);
  });
});
