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

  it("refuses a rolling window, which the pipeline does not run yet, naming window.last", () => {
    const draft = {
      id: "lapsed",
      event: "lesson",
      count: { op: "=", value: 0 },
      window: { last: "14d" },
      action: { type: "attribute", name: "lapsed" },
    };
    expect(() => validateRule(draft)).toThrow(InvalidRuleError);
    try {
      validateRule(draft);
    } catch (error: unknown) {
      expect((error as InvalidRuleError).errors).toStrictEqual([
        {
          path: "window.last",
          message: expect.stringMatching(
            /^rolling windows \(window\.last\) run in pia simulate only; the pipeline does not run them yet/,
          ),
        },
      ]);
    }
  });
});
