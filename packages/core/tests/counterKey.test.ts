import { describe, expect, it } from "vitest";
import { counterKey } from "../src/counterKey.js";
import type { Rule } from "../src/rule.js";

const BASE: Rule = {
  id: "big-spender",
  event: "purchase",
  where: { product: "table", colour: "red" },
  count: { op: ">", value: 3 },
  sum: { metric: "price", op: ">=", value: "180.5" },
  action: { type: "attribute", name: "big_spender", value: "Ready" },
  reset: false,
  enabled: true,
};

const WINDOWED: Rule = { ...BASE, window: { from: "2021-01-01", to: "2021-01-31" } };

function without<K extends keyof Rule>(rule: Rule, key: K): Rule {
  const { [key]: _removed, ...rest } = rule;
  return rest as Rule;
}

describe("counterKey", () => {
  it("is the rule id, '#', and 12 base64url characters", () => {
    expect(counterKey(BASE)).toMatch(/^big-spender#[A-Za-z0-9_-]{12}$/);
    expect(counterKey({ ...BASE, id: "a#b" })).toMatch(/^a#b#[A-Za-z0-9_-]{12}$/);
  });

  it("is a pure function of the rule", () => {
    expect(counterKey({ ...BASE })).toBe(counterKey(BASE));
  });

  it.each<[string, Rule, Rule]>([
    ["a new count target", BASE, { ...BASE, count: { op: ">", value: 10 } }],
    ["a new sum target", BASE, { ...BASE, sum: { metric: "price", op: ">=", value: "99.99" } }],
    ["> to >= on a lifetime rule", BASE, { ...BASE, count: { op: ">=", value: 3 } }],
    ["> to = on a lifetime rule (still streaming)", BASE, { ...BASE, count: { op: "=", value: 3 } }],
    ["> to >= on a window rule (still streaming)", WINDOWED, { ...WINDOWED, count: { op: ">=", value: 3 } }],
    [
      "= to < on a window rule (still closing)",
      { ...WINDOWED, count: { op: "=", value: 3 } },
      { ...WINDOWED, count: { op: "<", value: 3 } },
    ],
    ["dropping the count condition", BASE, without(BASE, "count")],
    ["a new action", BASE, { ...BASE, action: { type: "event", name: "trk_big" } }],
    [
      "a new attribute value",
      BASE,
      { ...BASE, action: { type: "attribute", name: "big_spender", value: "Yes" } },
    ],
    ["disabling the rule", BASE, { ...BASE, enabled: false }],
    ["the order of the where entries", BASE, { ...BASE, where: { colour: "red", product: "table" } }],
    [
      "an empty where instead of none (both match every event)",
      without(BASE, "where"),
      { ...BASE, where: {} },
    ],
    ["reset set on a window rule (ignored there)", WINDOWED, { ...WINDOWED, reset: true }],
  ])("keeps the key on %s", (_edit, before, after) => {
    expect(counterKey(after)).toBe(counterKey(before));
  });

  it.each<[string, Rule, Rule]>([
    ["a new id", BASE, { ...BASE, id: "big-spender-2" }],
    ["a new event", BASE, { ...BASE, event: "checkout" }],
    ["a new where value", BASE, { ...BASE, where: { product: "chair", colour: "red" } }],
    ["a new where attribute", BASE, { ...BASE, where: { item: "table", colour: "red" } }],
    ["one more where entry", BASE, { ...BASE, where: { product: "table", colour: "red", size: "L" } }],
    ["dropping the where filter", BASE, without(BASE, "where")],
    ["adding a window", BASE, WINDOWED],
    ["a new window start", WINDOWED, { ...WINDOWED, window: { from: "2021-01-02", to: "2021-01-31" } }],
    ["a new window end", WINDOWED, { ...WINDOWED, window: { from: "2021-01-01", to: "2021-02-28" } }],
    ["a new sum metric", BASE, { ...BASE, sum: { metric: "quantity", op: ">=", value: "180.5" } }],
    [
      "dropping the sum metric (the first metric is summed)",
      BASE,
      { ...BASE, sum: { op: ">=", value: "180.5" } },
    ],
    ["dropping the sum (no sum is kept any more)", BASE, without(BASE, "sum")],
    [
      "adding a sum to a count-only rule (it was not kept)",
      without(BASE, "sum"),
      { ...without(BASE, "sum"), sum: { op: ">", value: "1" } },
    ],
    ["reset on a lifetime rule", BASE, { ...BASE, reset: true }],
    [
      "> to = on a window rule (streaming to closing)",
      WINDOWED,
      { ...WINDOWED, count: { op: "=", value: 3 } },
    ],
    [
      ">= to <= on a window sum (streaming to closing)",
      WINDOWED,
      { ...WINDOWED, sum: { metric: "price", op: "<=", value: "180.5" } },
    ],
    [
      "< to > on a window rule (closing to streaming)",
      { ...WINDOWED, count: { op: "<", value: 3 } },
      { ...WINDOWED, count: { op: ">", value: 3 } },
    ],
  ])("changes the key on %s", (_edit, before, after) => {
    expect(counterKey(after)).not.toBe(counterKey(before));
  });

  it("does not mix up where names and values that concatenate alike", () => {
    const a = counterKey({ ...BASE, where: { ab: "c" } });
    const b = counterKey({ ...BASE, where: { a: "bc" } });
    expect(a).not.toBe(b);
  });
});
