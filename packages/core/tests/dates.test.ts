import { describe, expect, it } from "vitest";
import { DAY_MS, parseStrictDate } from "../src/dates.js";

describe("parseStrictDate", () => {
  it.each([
    ["1970-01-01", 0],
    ["1970-01-02", DAY_MS],
    ["2021-01-01", Date.UTC(2021, 0, 1)],
    ["2021-02-28", Date.UTC(2021, 1, 28)],
    ["2020-02-29", Date.UTC(2020, 1, 29)],
    ["2000-02-29", Date.UTC(2000, 1, 29)],
    ["2021-12-31", Date.UTC(2021, 11, 31)],
    ["2021-04-30", Date.UTC(2021, 3, 30)],
  ])("%s is a real date at %d", (text, expected) => {
    expect(parseStrictDate(text)).toBe(expected);
  });

  it.each(["0050-06-15", "0001-01-01", "1999-12-31", "2024-02-29", "9999-12-31"])(
    "%s is 00:00 UTC of that very date (no two-digit year mapping)",
    (text) => {
      expect(new Date(parseStrictDate(text) ?? Number.NaN).toISOString()).toBe(`${text}T00:00:00.000Z`);
    },
  );

  it.each([
    "2021-02-29",
    "1900-02-29",
    "2021-13-01",
    "2021-00-10",
    "2021-01-00",
    "2021-04-31",
    "2021-01-32",
    "9999-99-99",
    "2021-1-1",
    "21-01-01",
    "2021/01/01",
    "2021-01-01T00:00:00Z",
    " 2021-01-01",
    "2021-01-01 ",
    "20210101",
    "",
    "２０２１-01-01",
  ])("%j is not a strict date", (text) => {
    expect(parseStrictDate(text)).toBeUndefined();
  });

  it("gives 00:00 UTC, one DAY_MS apart across a month end", () => {
    const last = parseStrictDate("2021-01-31");
    const next = parseStrictDate("2021-02-01");
    expect(last).toBeDefined();
    expect((next ?? 0) - (last ?? 0)).toBe(DAY_MS);
    expect(new Date(last ?? 0).toISOString()).toBe("2021-01-31T00:00:00.000Z");
  });
});
