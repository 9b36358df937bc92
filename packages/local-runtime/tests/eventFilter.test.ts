import { DEFAULTS } from "@pia/aws";
import { describe, expect, it } from "vitest";
import { matchesEventFilter, parseEventFilter, UnsupportedEventFilterError } from "../src/index.js";

describe("event filter patterns", () => {
  it("pass the aggregate mapping's new events only, as Lambda filters its stream", () => {
    const insertsOnly = parseEventFilter(DEFAULTS.aggregate.streamFilterPattern);
    const record = (eventName: string) => ({ eventName, dynamodb: { Keys: { pk: { S: "a" } } } });
    expect(matchesEventFilter(insertsOnly, record("INSERT"))).toBe(true);
    expect(matchesEventFilter(insertsOnly, record("MODIFY"))).toBe(false);
    expect(matchesEventFilter(insertsOnly, record("REMOVE"))).toBe(false);
    expect(matchesEventFilter(insertsOnly, {})).toBe(false);
  });

  it("go down into nested fields, every field having to match", () => {
    const pattern = parseEventFilter('{"eventName":["INSERT"],"dynamodb":{"Keys":{"pk":{"S":["a","b"]}}}}');
    const record = (eventName: string, pk: string) => ({ eventName, dynamodb: { Keys: { pk: { S: pk } } } });
    expect(matchesEventFilter(pattern, record("INSERT", "b"))).toBe(true);
    expect(matchesEventFilter(pattern, record("INSERT", "c"))).toBe(false);
    expect(matchesEventFilter(pattern, record("MODIFY", "a"))).toBe(false);
  });

  it.each([
    ['{"eventName":[{"prefix":"INS"}]}', "prefix"],
    ['{"eventName":"INSERT"}', "must be an object"],
    ["INSERT", "not JSON"],
  ])("refuse %s rather than filter differently from Lambda", (text, reason) => {
    expect(() => parseEventFilter(text)).toThrow(UnsupportedEventFilterError);
    expect(() => parseEventFilter(text)).toThrow(reason);
  });
});
