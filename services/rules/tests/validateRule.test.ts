import { describe, expect, it } from "vitest";
import { InvalidRuleError } from "../src/errors.js";
import { validateRule } from "../src/validateRule.js";

describe("validateRule", () => {
  it("refuses a draft that filters on __proto__ (as the API parses its JSON body), naming the field", () => {
    const body =
      '{"id":"vip","event":"purchase","where":{"__proto__":"vip"},"count":{"op":">","value":1},"action":{"type":"attribute","name":"vip"}}';
    const error = (() => {
      try {
        validateRule(JSON.parse(body));
      } catch (e: unknown) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidRuleError);
    expect((error as InvalidRuleError).errors).toStrictEqual([
      { path: "where.__proto__", message: expect.stringMatching(/"__proto__" is reserved/) },
    ]);
  });

  it("accepts a rolling window, as the core reads it (the API no longer refuses what the pipeline runs)", () => {
    const draft = {
      id: "lapsed",
      event: "lesson",
      count: { op: "=", value: 0 },
      window: { last: "14d" },
      action: { type: "attribute", name: "lapsed" },
    };
    expect(validateRule(draft)).toStrictEqual({
      rule: {
        id: "lapsed",
        event: "lesson",
        count: { op: "=", value: 0 },
        window: { last: "14d" },
        action: { type: "attribute", name: "lapsed", value: "Ready" },
        reset: false,
        enabled: true,
      },
      warnings: [],
    });
  });

  it("names the field of the core's refusals of a rolling rule: its length, its reset", () => {
    const errorsOf = (draft: unknown) => {
      try {
        validateRule(draft);
      } catch (error: unknown) {
        return (error as InvalidRuleError).errors;
      }
      return [];
    };
    const base = { id: "r", event: "lesson", action: { type: "attribute", name: "a" } };
    expect(errorsOf({ ...base, count: { op: ">", value: 1 }, window: { last: "401d" } })).toStrictEqual([
      { path: "window.last", message: expect.stringContaining("outside 1h..400d") },
    ]);
    expect(
      errorsOf({ ...base, count: { op: "<", value: 2 }, window: { last: "7d" }, reset: true }),
    ).toStrictEqual([
      { path: "reset", message: expect.stringContaining('reset on a rolling window needs ">" or ">="') },
      { path: "reset", message: expect.stringContaining("reset on a rolling window needs an event action") },
    ]);
  });
});
