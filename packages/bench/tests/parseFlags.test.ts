import { UsageError } from "@pia/aws/usageError";
import { describe, expect, it } from "vitest";
import { parseFlags, wholeNumberFlag } from "../src/parseFlags.js";

describe("parseFlags", () => {
  it("reads flags after the `--` that pnpm passes through", () => {
    expect(parseFlags(["--", "--events", "500", "--quick"], { events: "string", quick: "boolean" })).toEqual({
      events: "500",
      quick: true,
    });
  });

  it.each([
    [["--nope"], /nope/],
    [["--events"], /events/],
    [["stray"], /stray/],
  ])("refuses %j with a usage error", (argv, message) => {
    expect(() => parseFlags(argv, { events: "string" })).toThrow(UsageError);
    expect(() => parseFlags(argv, { events: "string" })).toThrow(message);
  });
});

describe("wholeNumberFlag", () => {
  it.each([
    [undefined, 7],
    ["20000", 20_000],
    ["20_000", 20_000],
  ])("reads %j", (text, expected) => {
    expect(wholeNumberFlag("events", text, 7)).toBe(expected);
  });

  it.each(["0", "-3", "1.5", "abc", "", "1e400"])("refuses %j", (text) => {
    expect(() => wholeNumberFlag("events", text, 7)).toThrow(/--events must be a whole number >= 1/);
  });
});
