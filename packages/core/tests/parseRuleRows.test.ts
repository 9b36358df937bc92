import { describe, expect, it } from "vitest";
import { InvalidRulesError, type LoadedRules, type RuleIssue } from "../src/issues.js";
import { parseRuleRows, type RuleRow } from "../src/parseRuleRows.js";
import { parseRulesCsv } from "../src/parseRulesCsv.js";

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key,MetricName";
const LONG_EVENT = "e".repeat(51);

/** Rows as cells, valid and invalid, covering every column and the checks across rows (ids). */
const CELLS: readonly (readonly string[])[] = [
  ["aggregator", "pageview", "na", "999", "greater", "3", "na", "999", "no", "9999-99-99", "9999-99-99", "k"],
  ["aggregator", "lesson", "na", "999", "equal", "5", "na", "999", "yes", "", "", "k"],
  [
    "date",
    "purchase",
    "product",
    "chair, oak",
    "na",
    "999",
    "greater",
    "180.5",
    "no",
    "2021-01-01",
    "2021-01-31",
    "",
    "price",
  ],
  ["", "", "", "", "", "", "", "", "", "", "", ""],
  [
    "aggregator",
    LONG_EVENT,
    "na",
    "999",
    "greater",
    "1",
    "na",
    "999",
    "no",
    "9999-99-99",
    "9999-99-99",
    "long",
  ],
  ["date", "purchase", "na", "999", "na", "1", "na", "1", "yes", "2021-02-29", "2021-01-01", "bad"],
  ["aggregator", "view", "na", "999", "smaller", "x", "na", "999", "maybe", "", "", ""],
  [" aggregator ", " spaced ", "na", "999", "greater", " 2 ", "na", "999", "no", "", "", " s "],
  ["date", "short"],
];

/** The same rows as a CSV file: the header on line 1, then one row per line. */
function toCsv(rows: readonly (readonly string[])[]): string {
  const quote = (cell: string) => (/[",\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
  return [HEADER, ...rows.map((cells) => cells.map(quote).join(","))].join("\n");
}

function load(parse: () => LoadedRules): { loaded?: LoadedRules; issues: readonly RuleIssue[] } {
  try {
    const loaded = parse();
    return { loaded, issues: loaded.warnings };
  } catch (error) {
    if (error instanceof InvalidRulesError) return { issues: error.issues };
    throw error;
  }
}

const located = (rows: readonly (readonly string[])[]): RuleRow[] =>
  rows.map((cells, index) => ({ cells, locator: `row ${index + 1} (id r${index + 1})` }));

describe("parseRuleRows", () => {
  it.each([
    ["valid rows", CELLS.slice(0, 5), 4],
    ["rows with errors", CELLS, undefined],
  ])("gives what parseRulesCsv gives for the same cells: %s", (_case, rows, ruleCount) => {
    const csv = load(() => parseRulesCsv(toCsv(rows)));
    expect(csv.loaded?.rules.length).toBe(ruleCount);
    const fromLines = load(() => parseRuleRows(rows.map((cells, index) => ({ cells, line: index + 2 }))));
    expect(fromLines).toEqual(csv);

    // Located rows: the same rules and the same issues, each named by its locator instead of a line.
    const fromLocators = load(() => parseRuleRows(located(rows)));
    expect(fromLocators.loaded?.rules).toEqual(csv.loaded?.rules);
    expect(fromLocators.issues).toEqual(
      csv.issues.map(({ line, ...issue }) => ({
        ...issue,
        message: line === undefined ? issue.message : `row ${line - 1} (id r${line - 1}): ${issue.message}`,
      })),
    );
  });

  it("names a bad row by its locator, the field and the reason, in row order", () => {
    const { issues } = load(() => parseRuleRows(located(CELLS), "Honeycode table t"));
    const errors = issues.filter((issue) => issue.severity === "error");
    expect(errors.map((issue) => `${issue.field} ${issue.message.split(":")[0]}`)).toEqual([
      "Operator-C row 6 (id r6)",
      "StartDate row 6 (id r6)",
      "Operator-C row 7 (id r7)",
      "Target-C row 7 (id r7)",
      "ResetWhenReachTarget row 7 (id r7)",
      "AttributeName row 9 (id r9)",
    ]);
    expect(errors.every((issue) => issue.line === undefined)).toBe(true);
    expect(errors[3]).toEqual({
      severity: "error",
      field: "Target-C",
      ruleId: "aggregatorview",
      message: 'row 7 (id r7): "x" is not a whole number >= 0; write the count target, e.g. 3',
    });
    expect(() => parseRuleRows(located(CELLS), "Honeycode table t")).toThrow(
      /^Honeycode table t: 6 invalid entries[\s\S]*error: Target-C: row 7 \(id r7\): "x" is not a whole number/,
    );
  });

  it("places the checks of the canonical validation on their row", () => {
    const { loaded } = load(() => parseRuleRows(located(CELLS.slice(0, 5))));
    expect(loaded?.warnings).toEqual([
      expect.objectContaining({
        severity: "warning",
        field: "EventName",
        ruleId: "long",
        message: expect.stringMatching(/^row 5 \(id r5\): the attribute name is 51 characters long/),
      }),
    ]);
  });

  it("trims cells, skips blank rows, and numbers ids in row order", () => {
    const { rules } = parseRuleRows(located([CELLS[7] ?? [], [" ", ""], CELLS[1] ?? [], CELLS[0] ?? []]));
    expect(rules.map((rule) => [rule.id, rule.event, rule.count?.value])).toEqual([
      ["s", "spaced", 2],
      ["k", "lesson", 5],
      ["k#2", "pageview", 3],
    ]);
  });

  it("loads no rules from no rows", () => {
    expect(parseRuleRows([])).toEqual({ rules: [], warnings: [] });
  });
});
