import { describe, expect, it } from "vitest";
import {
  compileRule,
  counterKey,
  InvalidRulesError,
  type Rule,
  type RuleIssue,
  rollingLengthMs,
} from "../src/index.js";
import { validateRules } from "../src/ruleSchema.js";

const HOUR = 3_600_000;

/** A valid rolling rule, to spread and override. */
const ROLLING = {
  id: "r",
  event: "lesson",
  count: { op: ">", value: 5 },
  window: { last: "7d" },
  action: { type: "attribute", name: "active" },
};

function issuesOf(input: unknown): readonly RuleIssue[] {
  try {
    return validateRules(input).warnings;
  } catch (error: unknown) {
    if (error instanceof InvalidRulesError) return error.issues;
    throw error;
  }
}

/** The one rule of a list, for the calls that need a `Rule` rather than `Rule | undefined`. */
function only<T>(list: readonly T[]): T {
  const [first] = list;
  if (first === undefined || list.length !== 1) throw new Error(`expected one rule, got ${list.length}`);
  return first;
}

const errorsOf = (input: unknown) => issuesOf(input).filter((issue) => issue.severity === "error");

describe("rollingLengthMs", () => {
  it.each([
    ["1h", HOUR],
    ["36h", 36 * HOUR],
    ["7d", 7 * 24 * HOUR],
    ["400d", 400 * 24 * HOUR],
    ["9600h", 9600 * HOUR],
    ["0h", undefined],
    ["07d", undefined],
    ["401d", undefined],
    ["9601h", undefined],
    ["7 d", undefined],
    ["7D", undefined],
    ["7w", undefined],
    ["1.5d", undefined],
    ["-1d", undefined],
    ["d", undefined],
    ["", undefined],
  ])("%j -> %j", (last, ms) => {
    expect(rollingLengthMs(last)).toBe(ms);
  });
});

describe("validateRules with window.last", () => {
  it("reads a rolling rule and compiles it to its length in milliseconds", () => {
    const { rules, warnings } = validateRules([ROLLING]);
    expect(warnings).toEqual([]);
    expect(only(rules).window).toEqual({ last: "7d" });
    const compiled = compileRule(only(rules));
    expect(compiled).toMatchObject({ kind: "rolling", length: 7 * 24 * HOUR, resets: false });
  });

  it.each(["=", "<", "<=", ">", ">="])("allows %s on a rolling window", (op) => {
    expect(validateRules([{ ...ROLLING, sum: { op, value: 2 } }]).rules).toHaveLength(1);
  });

  it("keeps reset on a rolling rule with > / >= and an event action", () => {
    const { rules } = validateRules([
      { ...ROLLING, count: { op: ">=", value: 4 }, action: { type: "event", name: "trk_x" }, reset: true },
    ]);
    expect(only(rules).reset).toBe(true);
    expect(compileRule(only(rules)).resets).toBe(true);
  });

  it.each([
    [
      "a number without unit",
      { last: 7 },
      "rules[0].window.last",
      /not a window length; write a whole number and a unit/,
    ],
    ["a week unit", { last: "1w" }, "rules[0].window.last", /not a window length/],
    ["a leading zero", { last: "07d" }, "rules[0].window.last", /not a window length/],
    ["zero hours", { last: "0h" }, "rules[0].window.last", /not a window length/],
    ["more than 400 days", { last: "401d" }, "rules[0].window.last", /outside 1h\.\.400d/],
    ["more than 9600 hours", { last: "9601h" }, "rules[0].window.last", /outside 1h\.\.400d/],
    ["last with from", { last: "7d", from: "2021-01-01" }, "rules[0].window.from", /"last" excludes "from"/],
    ["last with to", { last: "7d", to: "2021-01-31" }, "rules[0].window.to", /"last" excludes "to"/],
    [
      "an unknown key",
      { last: "7d", lenght: 1 },
      "rules[0].window.lenght",
      /unknown key "lenght".*allowed here: last/,
    ],
  ])("refuses %s", (_, window, field, message) => {
    const errors = errorsOf([{ ...ROLLING, window }]);
    expect(errors).toEqual([expect.objectContaining({ field, message: expect.stringMatching(message) })]);
  });

  it.each([
    ["with =", { count: { op: "=", value: 4 }, action: { type: "event", name: "trk_x" } }, /count uses "="/],
    [
      "with < on the sum",
      { sum: { op: "<", value: 4 }, action: { type: "event", name: "trk_x" } },
      /sum uses "<"/,
    ],
    ["with an attribute action", { count: { op: ">=", value: 4 } }, /needs an event action/],
  ])("refuses reset %s, on the field reset", (_, overrides, message) => {
    const errors = errorsOf([{ ...ROLLING, ...overrides, reset: true }]);
    expect(errors).toEqual([
      expect.objectContaining({ field: "rules[0].reset", message: expect.stringMatching(message) }),
    ]);
  });

  it("warns when another rule sets a rolling rule's attribute, and only then", () => {
    const rules = [
      ROLLING,
      {
        id: "lifetime",
        event: "lesson",
        count: { op: ">", value: 1 },
        action: { type: "attribute", name: "active" },
      },
      {
        id: "other",
        event: "lesson",
        count: { op: ">", value: 1 },
        action: { type: "attribute", name: "keen" },
      },
      {
        id: "fires",
        event: "lesson",
        count: { op: ">", value: 1 },
        action: { type: "event", name: "trk_active" },
      },
    ];
    expect(issuesOf(rules)).toEqual([
      {
        severity: "warning",
        field: "rules[0].action.name",
        ruleId: "r",
        message: expect.stringMatching(
          /"active" is also set by "lifetime"; when this rolling rule's user leaves/,
        ),
      },
    ]);
  });

  it("gives a rolling rule its own counter key, apart from the same rule on dates or lifetime", () => {
    const [rolling, week, lifetime] = validateRules([
      ROLLING,
      { ...ROLLING, id: "r2", window: { last: "168h" } },
      { ...ROLLING, id: "r3", window: undefined },
    ]).rules;
    const fingerprint = (rule: Rule | undefined) =>
      rule === undefined ? "" : counterKey(rule).split("#")[1];
    expect(new Set([fingerprint(rolling), fingerprint(week), fingerprint(lifetime)]).size).toBe(3);
  });
});
