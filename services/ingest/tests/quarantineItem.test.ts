import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { toQuarantineItem, truncateUtf8 } from "../src/quarantineItem.js";
import { NOW } from "./fixtures.js";

describe("truncateUtf8", () => {
  it.each([
    ["fits", "abc", 3, "abc", false],
    ["cut between ASCII characters", "abcd", 3, "abc", true],
    ["never splits a 2-byte character", "aé", 2, "a", true],
    ["never splits a 3-byte character", "a€", 3, "a", true],
    ["never splits a surrogate pair (4 bytes)", "ab😀", 5, "ab", true],
    ["keeps a whole 4-byte character", "ab😀c", 6, "ab😀", true],
    ["empty text", "", 0, "", false],
  ])("%s", (_case, text, maxBytes, expected, truncated) => {
    expect(truncateUtf8(text, maxBytes)).toStrictEqual({ text: expected, truncated });
  });

  it("gives the longest whole-character prefix within the limit (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.nat({ max: 64 }), (text, maxBytes) => {
        const result = truncateUtf8(text, maxBytes);
        const bytes = Buffer.byteLength(result.text, "utf8");
        expect(text.startsWith(result.text)).toBe(true);
        expect(bytes).toBeLessThanOrEqual(maxBytes);
        expect(result.truncated).toBe(result.text !== text);
        if (result.truncated) {
          const next = String.fromCodePoint(text.codePointAt(result.text.length) ?? 0);
          expect(bytes + Buffer.byteLength(next, "utf8")).toBeGreaterThan(maxBytes);
        }
      }),
    );
  });
});

describe("toQuarantineItem", () => {
  it("omits an arrival time that is not a valid date rather than throwing", () => {
    const item = toQuarantineItem(
      { reason: "bad_json", detail: "d", payload: "x", sequenceNumber: "1", arrivedAt: Number.NaN },
      NOW,
      14,
    );
    expect(item).not.toHaveProperty("arrivedAt");
  });

  it("sorts keys of the same day by time", () => {
    const early = toQuarantineItem(
      { reason: "bad_json", detail: "", payload: "", sequenceNumber: "9" },
      NOW,
      1,
    );
    const late = toQuarantineItem(
      { reason: "bad_json", detail: "", payload: "", sequenceNumber: "1" },
      NOW + 1,
      1,
    );
    expect(early.pk).toBe(late.pk);
    expect(early.sk < late.sk).toBe(true);
  });

  it("keys a record by its arrival on the stream, so a retried batch rewrites the same item", () => {
    const input = {
      reason: "bad_json" as const,
      detail: "",
      payload: "{",
      sequenceNumber: "42",
      arrivedAt: NOW - 5_000,
    };
    const first = toQuarantineItem(input, NOW, 14);
    const retry = toQuarantineItem(input, NOW + 3_600_000, 14);
    expect([retry.pk, retry.sk]).toEqual([first.pk, first.sk]);
  });
});
