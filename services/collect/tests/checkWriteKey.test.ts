import { describe, expect, it } from "vitest";
import { isWriteKey, readWriteKey } from "../src/checkWriteKey.js";

const basic = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`;

describe("readWriteKey", () => {
  it.each([
    [basic("wk_123:"), "wk_123"],
    [basic("wk_123"), "wk_123"],
    [basic("wk_123:ignored"), "wk_123"],
    [`basic   ${Buffer.from("k:").toString("base64")}`, "k"],
    [basic(":"), undefined],
    ["Bearer abc", undefined],
    ["Basic", undefined],
    ["Basic !!!", undefined],
    [undefined, undefined],
  ])("reads %s as %s", (header, key) => {
    expect(readWriteKey(header)).toBe(key);
  });
});

describe("isWriteKey", () => {
  it("matches one of the configured keys exactly", () => {
    expect(isWriteKey("new", ["old", "new"])).toBe(true);
    expect(isWriteKey("old", ["old", "new"])).toBe(true);
    expect(isWriteKey("ne", ["old", "new"])).toBe(false);
    expect(isWriteKey("new ", ["new"])).toBe(false);
    expect(isWriteKey("anything", [])).toBe(false);
  });
});
