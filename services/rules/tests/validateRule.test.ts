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
});
