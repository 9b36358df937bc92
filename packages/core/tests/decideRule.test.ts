import { describe, expect, it } from "vitest";
import type { CounterRule, CounterState, Rule } from "../src/index.js";
import {
  advanceClock,
  applyMatches,
  compileRule,
  DAY_MS,
  isClosingDue,
  isSettled,
  toDecimal,
} from "../src/index.js";
import { rule, utc } from "./fixtures.js";

const JANUARY = { from: "2021-01-01", to: "2021-01-31" };
/** The instant January's window closes, and its last millisecond (what a closing firing carries). */
const CLOSE = utc("2021-02-01T00:00:00.000");
const LAST_MS = utc("2021-01-31T23:59:59.999");
const NOW = utc("2021-03-01T00:00:00.000");

/** These tests are of lifetime and date-window rules, which are decided on totals. */
const compiled = (spec: Partial<Rule>): CounterRule => {
  const c = compileRule(rule({ id: "r", event: "purchase", ...spec }));
  if (c.kind === "rolling") throw new Error("expected a lifetime or date-window rule");
  return c;
};
const state = (count: number, sum: string, fired = false): CounterState => ({
  count,
  sum: toDecimal(sum),
  fired,
});
/** One match per metric text, a day apart from January 1st. */
const matches = (...metrics: (string | undefined)[]) =>
  metrics.map((metric, index) => ({ timestamp: utc("2021-01-01T12:00:00") + index * DAY_MS, metric }));

const lifetimeCount = (op: ">" | ">=" | "=", value: number, reset = false) =>
  compiled({ count: { op, value }, reset });

describe("applyMatches", () => {
  it.each([
    {
      name: "count > 2 fires once, on the 3rd match, and keeps counting",
      rule: lifetimeCount(">", 2),
      from: undefined,
      metrics: ["1", "1", "1", "1"],
      firedBy: [2],
      after: state(4, "0", true),
    },
    {
      name: "lifetime count = 2 fires on the 2nd match only",
      rule: lifetimeCount("=", 2),
      from: undefined,
      metrics: ["1", "1", "1"],
      firedBy: [1],
      after: state(3, "0", true),
    },
    {
      name: "reset count >= 2 fires at every 2nd match, starting again from 0",
      rule: lifetimeCount(">=", 2, true),
      from: undefined,
      metrics: ["1", "1", "1", "1", "1"],
      firedBy: [1, 3],
      after: state(1, "0"),
    },
    {
      name: "sum >= 0.3 adds exact decimals: 0.1 + 0.2 reaches it",
      rule: compiled({ sum: { metric: "price", op: ">=", value: "0.3" } }),
      from: undefined,
      metrics: ["0.1", "0.2"],
      firedBy: [1],
      after: state(2, "0.3", true),
    },
    {
      name: "a missing metric adds 0 to the sum",
      rule: compiled({ sum: { metric: "price", op: ">", value: "5" } }),
      from: undefined,
      metrics: ["5", undefined, "0.5"],
      firedBy: [2],
      after: state(3, "5.5", true),
    },
    {
      name: "a stored state goes on from its totals",
      rule: lifetimeCount(">", 2),
      from: state(2, "0"),
      metrics: ["1"],
      firedBy: [0],
      after: state(3, "0", true),
    },
    {
      name: "a once-per-user rule that has fired fires no more",
      rule: lifetimeCount(">", 2),
      from: state(5, "0", true),
      metrics: ["1"],
      firedBy: [],
      after: state(6, "0", true),
    },
    {
      name: "a streaming window rule fires on the running totals",
      rule: compiled({ count: { op: ">", value: 1 }, window: JANUARY }),
      from: undefined,
      metrics: ["1", "1"],
      firedBy: [1],
      after: state(2, "0", true),
    },
    {
      name: "a closing rule only counts, however the totals stand",
      rule: compiled({ count: { op: "<", value: 3 }, window: JANUARY }),
      from: undefined,
      metrics: ["1", "1"],
      firedBy: [],
      after: state(2, "0"),
    },
  ])("$name", ({ rule: r, from, metrics, firedBy, after }) => {
    const given = matches(...metrics);
    const step = applyMatches(r, from, given);
    expect(step.firings.map(({ match }) => given.indexOf(match))).toEqual(firedBy);
    expect(step.firings.map(({ at }) => at)).toEqual(firedBy.map((index) => given[index]?.timestamp));
    expect({ ...step.state, sum: step.state.sum.toString() }).toEqual({
      ...after,
      sum: after.sum.toString(),
    });
  });

  it("hands back the caller's own match objects, extra fields included", () => {
    const given = [{ timestamp: 1, metric: undefined, seq: "0042" }];
    const [firing] = applyMatches(lifetimeCount(">=", 1), undefined, given).firings;
    expect(firing?.match).toBe(given[0]);
  });
});

describe("advanceClock", () => {
  const fewerThan3 = compiled({ count: { op: "<", value: 3 }, window: JANUARY });
  it.each([
    {
      name: "decides a closed window on its totals",
      rule: fewerThan3,
      from: state(2, "0"),
      now: NOW,
      at: [LAST_MS],
    },
    {
      name: "decides at the very instant the window closes",
      rule: fewerThan3,
      from: state(2, "0"),
      now: CLOSE,
      at: [LAST_MS],
    },
    {
      name: "decides nothing while the window is open",
      rule: fewerThan3,
      from: state(2, "0"),
      now: CLOSE - 1,
      at: [],
    },
    {
      name: "does not fire when the totals miss the condition",
      rule: fewerThan3,
      from: state(3, "0"),
      now: NOW,
      at: [],
    },
    {
      name: "does not fire for a user without matches",
      rule: fewerThan3,
      from: state(0, "0"),
      now: NOW,
      at: [],
    },
    {
      name: "fires a closing decision only once",
      rule: fewerThan3,
      from: state(2, "0", true),
      now: NOW,
      at: [],
    },
    {
      name: "compares the sum exactly: 10.0 = 10",
      rule: compiled({ sum: { metric: "price", op: "=", value: "10" }, window: JANUARY }),
      from: state(1, "10.0"),
      now: NOW,
      at: [LAST_MS],
    },
    {
      name: "decides nothing for a streaming window rule",
      rule: compiled({ count: { op: ">", value: 1 }, window: JANUARY }),
      from: state(2, "0"),
      now: NOW,
      at: [],
    },
    {
      name: "decides nothing for a lifetime rule",
      rule: lifetimeCount("=", 2),
      from: state(2, "0"),
      now: NOW,
      at: [],
    },
  ])("$name", ({ rule: r, from, now, at }) => {
    const step = advanceClock(r, from, now);
    expect(step.firings.map((firing) => firing.at)).toEqual(at);
    expect(step.state).toEqual(at.length > 0 ? { ...from, fired: true } : from);
  });
});

describe("isClosingDue", () => {
  it.each([
    {
      name: "closing rule, window open",
      rule: compiled({ count: { op: "=", value: 1 }, window: JANUARY }),
      now: CLOSE - 1,
      due: false,
    },
    {
      name: "closing rule, window closed",
      rule: compiled({ count: { op: "=", value: 1 }, window: JANUARY }),
      now: CLOSE,
      due: true,
    },
    {
      name: "streaming window rule",
      rule: compiled({ count: { op: ">", value: 1 }, window: JANUARY }),
      now: NOW,
      due: false,
    },
    { name: "lifetime rule", rule: lifetimeCount("=", 1), now: NOW, due: false },
  ])("$name: $due", ({ rule: r, now, due }) => {
    expect(isClosingDue(r, now)).toBe(due);
  });
});

describe("isSettled", () => {
  it.each([
    {
      name: "a once-per-user streaming rule that fired",
      rule: lifetimeCount(">", 1),
      from: state(2, "0", true),
      settled: true,
    },
    {
      name: "a streaming rule not fired yet",
      rule: lifetimeCount(">", 1),
      from: state(1, "0"),
      settled: false,
    },
    { name: "a user without a state yet", rule: lifetimeCount(">", 1), from: undefined, settled: false },
    {
      name: "a closing rule that fired (its totals are still counted)",
      rule: compiled({ count: { op: "<", value: 3 }, window: JANUARY }),
      from: state(2, "0", true),
      settled: false,
    },
  ])("$name: $settled", ({ rule: r, from, settled }) => {
    expect(isSettled(r, from)).toBe(settled);
  });
});
