import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stableJson } from "../src/stableJson.js";

/** The recursive definition: sorted keys at every level, JSON text otherwise. */
function reference(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const object = value as Record<string, unknown>;
    const members = Object.keys(object)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${reference(object[key])}`);
    return `{${members.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

describe("stableJson", () => {
  it("equals the recursive definition on any JSON value", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(stableJson(value)).toBe(reference(value));
      }),
      { numRuns: 500 },
    );
  });

  it.each<[unknown, string]>([
    [{ b: 1, a: [true, null, "x"] }, '{"a":[true,null,"x"],"b":1}'],
    [JSON.parse('{"__proto__":{"z":1,"y":[]}}'), '{"__proto__":{"y":[],"z":1}}'],
    [[], "[]"],
    [{}, "{}"],
  ])("writes %j as %s", (value, expected) => {
    expect(stableJson(value)).toBe(expected);
  });

  it("writes nesting deeper than the call stack goes", () => {
    const depth = 200_000;
    const value = JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown;
    expect(stableJson(value)).toBe(`${"[".repeat(depth)}${"]".repeat(depth)}`);
  });
});
