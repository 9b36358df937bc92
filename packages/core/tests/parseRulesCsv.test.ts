import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidRulesError, type RuleIssue } from "../src/issues.js";
import { parseRulesCsv } from "../src/parseRulesCsv.js";
import type { Rule } from "../src/rule.js";
import { validateRules } from "../src/ruleSchema.js";

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";
const VALID_AGGREGATOR = "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,first";
const VALID_DATE = "date,purchase,product,chair,greater,1,greater,180,no,2021-01-01,2021-02-28,second";

/** A table with the header, then `rows` from line 2 on. */
function table(rows: readonly string[], eol = "\n"): string {
  return [HEADER, ...rows].join(eol) + eol;
}

function issuesOf(text: string): readonly RuleIssue[] {
  try {
    parseRulesCsv(text);
  } catch (error) {
    if (error instanceof InvalidRulesError) return error.issues;
    throw error;
  }
  throw new Error("expected the table to be refused");
}

/** Errors as `line field` pairs, in the order reported. */
function errorPlaces(text: string): string[] {
  return issuesOf(text)
    .filter((issue) => issue.severity === "error")
    .map((issue) => `${issue.line} ${issue.field}`);
}

function onlyRule(text: string): Rule {
  const { rules } = parseRulesCsv(text);
  expect(rules).toHaveLength(1);
  const [rule] = rules;
  if (rule === undefined) throw new Error("no rule");
  return rule;
}

describe("parseRulesCsv: the example table", () => {
  const expected: Rule[] = [
    {
      id: "aggregatorpageview",
      event: "pageview",
      count: { op: ">", value: 3 },
      action: { type: "attribute", name: "pageview", value: "Ready" },
      reset: false,
      enabled: true,
    },
    {
      id: "aggregatorlesson_completed",
      event: "lesson_completed",
      count: { op: "=", value: 5 },
      action: { type: "event", name: "trk_lesson_completed" },
      reset: true,
      enabled: true,
    },
    {
      id: "datepurchase",
      event: "purchase",
      where: { product: "chair" },
      count: { op: ">", value: 1 },
      sum: { op: ">", value: "180" },
      window: { from: "2021-01-01", to: "2021-02-28" },
      action: { type: "attribute", name: "trk_date_purchase_chair", value: "Ready" },
      reset: false,
      enabled: true,
    },
  ];
  const text = readFileSync(new URL("../../../docs/examples/rules.csv", import.meta.url), "utf8");

  it("maps exactly to the canonical rules, without warnings", () => {
    expect(parseRulesCsv(text)).toEqual({ rules: expected, warnings: [] });
  });

  it("gives rules the canonical validation accepts unchanged", () => {
    expect(validateRules(parseRulesCsv(text).rules).rules).toEqual(expected);
  });

  it.each([
    ["CRLF", text.replace(/\r?\n/g, "\r\n")],
    ["a BOM", `\uFEFF${text}`],
    ["no final line break", text.trimEnd()],
  ])("reads the same with %s", (_, variant) => {
    expect(parseRulesCsv(variant).rules).toEqual(expected);
  });
});

describe("parseRulesCsv: one row to one rule", () => {
  it.each<[string, string, Partial<Rule>]>([
    [
      "aggregator + no sets the attribute N = Ready, once",
      "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,k",
      { action: { type: "attribute", name: "pageview", value: "Ready" }, reset: false },
    ],
    [
      "aggregator + yes fires trk_N and resets",
      "aggregator,pageview,na,999,greater,3,na,999,yes,9999-99-99,9999-99-99,k",
      { action: { type: "event", name: "trk_pageview" }, reset: true },
    ],
    [
      "a filter names the action EventName_AttributeValue, spaces kept",
      "aggregator,Add To Cart,Product Name,Big Table,greater,3,na,999,yes,9999-99-99,9999-99-99,k",
      {
        where: { "Product Name": "Big Table" },
        action: { type: "event", name: "trk_Add To Cart_Big Table" },
      },
    ],
    [
      "date sets trk_date_N with the window",
      "date,purchase,na,999,na,999,greater,99.5,no,2020-02-29,2020-02-29,k",
      {
        sum: { op: ">", value: "99.5" },
        window: { from: "2020-02-29", to: "2020-02-29" },
        action: { type: "attribute", name: "trk_date_purchase", value: "Ready" },
        reset: false,
      },
    ],
    [
      "keywords in any case; names keep their case",
      "AGGREGATOR,PageView,NA,999,Greater,3,Na,whatever,No,9999-99-99,9999-99-99,",
      {
        id: "aggregatorPageView",
        event: "PageView",
        count: { op: ">", value: 3 },
        action: { type: "attribute", name: "PageView", value: "Ready" },
      },
    ],
    [
      "equal, smaller and less on a date rule",
      "Date,buy,na,999,EQUAL,2,LESS,10,no,2021-01-01,2021-01-31,k",
      { count: { op: "=", value: 2 }, sum: { op: "<", value: "10" } },
    ],
    [
      "smaller is <",
      "date,buy,na,999,smaller,2,na,x,no,2021-01-01,2021-01-31,k",
      { count: { op: "<", value: 2 } },
    ],
    [
      "a Target-C of 3.0 is 3",
      "aggregator,e,na,999,equal,3.0,na,999,no,9999-99-99,9999-99-99,k",
      { count: { op: "=", value: 3 } },
    ],
    [
      "a Target-C of 0 is allowed",
      "aggregator,e,na,999,greater,0,na,999,no,9999-99-99,9999-99-99,k",
      { count: { op: ">", value: 0 } },
    ],
    [
      "Target-V keeps its exact decimal text, negative allowed",
      "aggregator,e,na,999,na,999,greater,-2.50,no,9999-99-99,9999-99-99,k",
      { sum: { op: ">", value: "-2.50" } },
    ],
    [
      "targets are ignored, whatever they hold, when their operator is na",
      "aggregator,e,na,999,na,not a number,greater,1,no,,,k",
      { sum: { op: ">", value: "1" } },
    ],
    [
      "aggregator dates may be empty",
      "aggregator,e,na,999,greater,1,na,999,no,,,k",
      { count: { op: ">", value: 1 } },
    ],
    [
      "cells are trimmed",
      "  aggregator , e ,  na , 999 , greater , 4 , na , 999 , no , 9999-99-99 , 9999-99-99 , k  ",
      { id: "k", event: "e", count: { op: ">", value: 4 } },
    ],
    [
      "MetricName picks the summed metric",
      "aggregator,e,na,999,na,999,greater,1,no,,,k,price",
      { sum: { metric: "price", op: ">", value: "1" } },
    ],
    [
      "MetricName na is the first metric",
      "aggregator,e,na,999,na,999,greater,1,no,,,k,NA",
      { sum: { op: ">", value: "1" } },
    ],
    [
      "empty cells after the 13th are fine",
      "aggregator,e,na,999,greater,1,na,999,no,,,k,,, ",
      { count: { op: ">", value: 1 } },
    ],
  ])("%s", (_, row, expected) => {
    const rule = onlyRule(table([row]));
    expect(rule).toMatchObject(expected);
    expect(rule.enabled).toBe(true);
    if (!("sum" in expected)) expect(rule.sum).toBeUndefined();
    if (!("where" in expected)) expect(rule.where).toBeUndefined();
    if (expected.sum !== undefined && !("metric" in expected.sum))
      expect(rule.sum).not.toHaveProperty("metric");
  });

  it("a date rule ignores ResetWhenReachTarget yes, with a warning", () => {
    const { rules, warnings } = parseRulesCsv(
      table(["date,e,na,999,greater,1,na,999,YES,2021-01-01,2021-01-31,k"]),
    );
    expect(rules[0]?.reset).toBe(false);
    expect(rules[0]?.action).toEqual({ type: "attribute", name: "trk_date_e", value: "Ready" });
    expect(warnings).toEqual([
      expect.objectContaining({ severity: "warning", line: 2, field: "ResetWhenReachTarget", ruleId: "k" }),
    ]);
  });

  it("warns when an attribute name is longer than Pinpoint accepts", () => {
    const event = "e".repeat(45);
    const { rules, warnings } = parseRulesCsv(
      table([`date,${event},na,999,greater,1,na,999,no,2021-01-01,2021-01-31,k`]),
    );
    expect(rules).toHaveLength(1);
    expect(warnings).toEqual([expect.objectContaining({ severity: "warning", line: 2, field: "EventName" })]);
  });

  it("header only, or an empty file: no rules", () => {
    expect(parseRulesCsv(`${HEADER}\n`)).toEqual({ rules: [], warnings: [] });
    expect(parseRulesCsv("")).toEqual({ rules: [], warnings: [] });
  });

  it("does not check the header by name", () => {
    const rule = onlyRule(`a,b,c\n${VALID_AGGREGATOR}\n`);
    expect(rule.id).toBe("first");
  });
});

describe("parseRulesCsv: invalid rows name the line and the column", () => {
  const aggregator = (cells: Partial<Record<number, string>>) => {
    const row = VALID_AGGREGATOR.split(",");
    for (const [index, value] of Object.entries(cells)) row[Number(index)] = value ?? "";
    return row.join(",");
  };
  const date = (cells: Partial<Record<number, string>>) => {
    const row = VALID_DATE.split(",");
    for (const [index, value] of Object.entries(cells)) row[Number(index)] = value ?? "";
    return row.join(",");
  };

  it.each<[string, string, string[], RegExp]>([
    [
      "both operators na",
      aggregator({ 4: "na", 6: "NA" }),
      ["Operator-C"],
      /both Operator-C and Operator-V are na/,
    ],
    ["unknown count operator", aggregator({ 4: "bigger" }), ["Operator-C"], /unknown operator "bigger"/],
    ["unknown sum operator", date({ 6: ">=" }), ["Operator-V"], /unknown operator ">="/],
    ["non-numeric Target-C", aggregator({ 5: "abc" }), ["Target-C"], /"abc" is not a whole number >= 0/],
    ["negative Target-C", aggregator({ 5: "-1" }), ["Target-C"], /not a whole number/],
    ["fractional Target-C", aggregator({ 5: "2.5" }), ["Target-C"], /not a whole number/],
    ["Target-C with exponent", aggregator({ 5: "1e3" }), ["Target-C"], /not a whole number/],
    ["empty Target-C", aggregator({ 5: "" }), ["Target-C"], /not a whole number/],
    ["non-numeric Target-V", date({ 7: "lots" }), ["Target-V"], /"lots" is not a number/],
    ["Target-V with exponent", date({ 7: "1.8e2" }), ["Target-V"], /without exponent/],
    ["StartDate 2021-02-29", date({ 9: "2021-02-29" }), ["StartDate"], /not a real calendar date/],
    ["FinishDate 2021-13-01", date({ 10: "2021-13-01" }), ["FinishDate"], /not a real calendar date/],
    ["FinishDate in another format", date({ 10: "28/02/2021" }), ["FinishDate"], /YYYY-MM-DD/],
    ["FinishDate before StartDate", date({ 9: "2021-03-01" }), ["FinishDate"], /before StartDate 2021-03-01/],
    [
      "date rule without dates",
      date({ 9: "9999-99-99", 10: "" }),
      ["StartDate", "FinishDate"],
      /RuleType aggregator|needs both dates/,
    ],
    ["smaller on an aggregator", aggregator({ 4: "smaller" }), ["Operator-C"], /fewer than.*never be final/],
    ["less on an aggregator", aggregator({ 6: "Less", 7: "5" }), ["Operator-V"], /never be final/],
    ["unknown RuleType", aggregator({ 0: "lifetime" }), ["RuleType"], /use aggregator .* or date/],
    ["bad yes/no", aggregator({ 8: "maybe" }), ["ResetWhenReachTarget"], /"maybe" is not yes or no/],
    ["empty yes/no", aggregator({ 8: "" }), ["ResetWhenReachTarget"], /not yes or no/],
    ["dates on an aggregator", aggregator({ 9: "2021-01-01" }), ["StartDate"], /use RuleType date/],
    [
      "missing cells",
      "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99",
      ["Key"],
      /11 cells .* needs 12/,
    ],
    ["a lone cell", "aggregator", ["EventName"], /1 cells/],
    ["empty EventName", aggregator({ 1: "" }), ["EventName"], /event name is empty/],
    ["EventName of our own events", aggregator({ 1: "trk_pageview" }), ["EventName"], /never counted/],
    ["EventName of a system event", aggregator({ 1: "_session.start" }), ["EventName"], /never counted/],
    [
      "AttributeValue missing for a filter",
      aggregator({ 2: "product", 3: "" }),
      ["AttributeValue"],
      /na for no filter/,
    ],
    ["empty AttributeName", aggregator({ 2: "" }), ["AttributeName"], /na for no filter/],
    [
      "content after the 13th column",
      `${VALID_AGGREGATOR},price,surprise`,
      ["column 14"],
      /after the last column/,
    ],
    ["a Key longer than 128 characters", aggregator({ 11: "k".repeat(129) }), ["Key"], /at most 128/],
  ])("%s", (_, row, fields, message) => {
    const issues = issuesOf(table([VALID_DATE, row])).filter((issue) => issue.severity === "error");
    expect(issues.map((issue) => `${issue.line} ${issue.field}`)).toEqual(
      fields.map((field) => `3 ${field}`),
    );
    for (const issue of issues) expect(issue.message).toMatch(message);
  });

  it("names the rule id the row would have had", () => {
    const [issue] = issuesOf(table([aggregator({ 4: "bigger", 11: "" })]));
    expect(issue).toMatchObject({ line: 2, field: "Operator-C", ruleId: "aggregatorpageview" });
  });

  it("lists every error of every row, in file order, and loads nothing", () => {
    const text = table([
      VALID_AGGREGATOR,
      "date,e,na,999,na,1,na,1,maybe,2021-02-29,2021-01-01,a",
      VALID_DATE,
      "aggregator,,na,999,smaller,x,na,999,no,9999-99-99,9999-99-99,b",
      "nonsense",
    ]);
    expect(errorPlaces(text)).toEqual([
      "3 Operator-C",
      "3 StartDate",
      "5 EventName",
      "5 Operator-C",
      "5 Target-C",
      "6 EventName",
    ]);
    expect(() => parseRulesCsv(text)).toThrow(/6 invalid entries/);
  });

  it("keeps warnings next to the errors of a refused file", () => {
    const issues = issuesOf(
      table(["date,e,na,999,greater,1,na,999,yes,2021-01-01,2021-01-31,a", aggregator({ 5: "x" })]),
    );
    expect(issues.map((issue) => `${issue.severity} ${issue.line} ${issue.field}`)).toEqual([
      "warning 2 ResetWhenReachTarget",
      "error 3 Target-C",
    ]);
  });
});

describe("parseRulesCsv: CSV syntax", () => {
  const quoted = [
    `aggregator,"view, page",na,999,greater,3,na,999,no,9999-99-99,9999-99-99,"key ""quoted"", yes"`,
    `aggregator,multi,product,"first line{EOL}second line",greater,3,na,999,no,9999-99-99,9999-99-99,"m"`,
    "",
    aggregatorRow("bigger"),
  ];
  function aggregatorRow(operator: string) {
    return `aggregator,after,na,999,${operator},3,na,999,no,9999-99-99,9999-99-99,after`;
  }

  it.each([
    ["LF", "\n"],
    ["CRLF", "\r\n"],
  ])("quoted cells keep commas, quotes and line breaks (%s)", (_, eol) => {
    const rows = quoted.slice(0, 2).map((row) => row.replace("{EOL}", eol));
    const { rules } = parseRulesCsv(table([...rows, aggregatorRow("greater")], eol));
    expect(rules.map((rule) => rule.id)).toEqual(['key "quoted", yes', "m", "after"]);
    expect(rules[0]?.event).toBe("view, page");
    expect(rules[1]?.where).toEqual({ product: `first line${eol}second line` });
    expect(rules[1]?.action).toEqual({
      type: "attribute",
      name: `multi_first line${eol}second line`,
      value: "Ready",
    });
  });

  it.each([
    ["LF", "\n"],
    ["CRLF", "\r\n"],
    ["CRLF with a BOM", "\r\n", "\uFEFF"],
  ])("a cell spanning lines does not shift the lines of later rows (%s)", (_, eol, bom = "") => {
    const rows = quoted.map((row) => row.replace("{EOL}", eol));
    // Lines: 1 header, 2 quoted, 3-4 multi-line row, 5 blank, 6 bad row.
    expect(errorPlaces(bom + table(rows, eol))).toEqual(["6 Operator-C"]);
  });

  it("several line breaks in one cell", () => {
    const text = table([
      'date,e,p,"a\n\n\nb",greater,1,na,999,no,2021-01-01,2021-01-31,k',
      aggregatorRow("bigger"),
    ]);
    expect(errorPlaces(text)).toEqual(["6 Operator-C"]);
  });

  it("skips blank rows but counts their lines", () => {
    const text = table(["", VALID_AGGREGATOR, "   ", ",,,,,,,,,,,", " , , ", aggregatorRow("bigger"), ""]);
    expect(errorPlaces(text)).toEqual(["7 Operator-C"]);
    const { rules } = parseRulesCsv(table(["", VALID_AGGREGATOR, "   ", ",,,,,,,,,,,", VALID_DATE, ""]));
    expect(rules.map((rule) => rule.id)).toEqual(["first", "second"]);
  });

  it("a BOM is ignored", () => {
    const { rules } = parseRulesCsv(`\uFEFF${table([VALID_AGGREGATOR])}`);
    expect(rules.map((rule) => rule.id)).toEqual(["first"]);
  });

  it("refuses CR-only line breaks instead of loading nothing", () => {
    const [issue] = issuesOf(table([VALID_AGGREGATOR], "\r"));
    expect(issue).toMatchObject({ severity: "error", line: 1, message: expect.stringMatching(/CRLF or LF/) });
  });

  it("mixed line endings", () => {
    const text = `${HEADER}\r\n${VALID_AGGREGATOR}\n${VALID_DATE}\r\n${aggregatorRow("bigger")}\n`;
    expect(errorPlaces(text)).toEqual(["4 Operator-C"]);
  });

  it.each([
    ["an unclosed quote", `${VALID_AGGREGATOR}\n"aggregator,x,na\n${VALID_DATE}\n`, 3, /never closed/],
    ["text after a closing quote", `${VALID_AGGREGATOR}\r\n"ab"c,x\r\n`, 3, /closing quote/],
    ["a quote inside an unquoted cell", `${VALID_AGGREGATOR}\nab"c,x\n`, 3, /inside an unquoted cell/],
  ])("%s is an error at the line where the row starts", (_, rows, line, message) => {
    const issues = issuesOf(`${HEADER}\n${rows}`);
    expect(issues).toEqual([
      expect.objectContaining({ severity: "error", line, message: expect.stringMatching(message) }),
    ]);
  });

  it("a syntax error does not hide the errors of the rows before it", () => {
    expect(errorPlaces(`${HEADER}\n${aggregatorRow("bigger")}\n"open\n`)).toEqual([
      "2 Operator-C",
      "3 undefined",
    ]);
  });
});

describe("parseRulesCsv: rule ids", () => {
  const row = (event: string, key: string) =>
    `aggregator,${event},na,999,greater,3,na,999,no,9999-99-99,9999-99-99,${key}`;

  it.each<[string, string[], string[]]>([
    ["distinct Keys", [row("a", "k1"), row("b", "k2")], ["k1", "k2"]],
    [
      "a repeated Key gets #2, #3 in file order",
      [row("a", "k"), row("b", "k"), row("c", "k")],
      ["k", "k#2", "k#3"],
    ],
    ["an empty Key is RuleType+EventName", [row("PageView", "")], ["aggregatorPageView"]],
    ["the RuleType part is lowercase", [row("x", "").replace("aggregator", "Aggregator")], ["aggregatorx"]],
    ["repeated empty Keys", [row("a", ""), row("a", "")], ["aggregatora", "aggregatora#2"]],
    [
      "a Key equal to another row's derived id",
      [row("a", ""), row("b", "aggregatora")],
      ["aggregatora", "aggregatora#2"],
    ],
    [
      "a suffix taken by an explicit Key is skipped",
      [row("a", "k"), row("b", "k"), row("c", "k#2"), row("d", "k")],
      ["k", "k#3", "k#2", "k#4"],
    ],
    ["Keys are case-sensitive", [row("a", "K"), row("b", "k")], ["K", "k"]],
  ])("%s", (_, rows, ids) => {
    const { rules } = parseRulesCsv(table(rows));
    expect(rules.map((rule) => rule.id)).toEqual(ids);
  });

  it("rows with the same action name each stay a rule", () => {
    const { rules } = parseRulesCsv(table([row("a", "k1"), row("a", "k2")]));
    expect(rules.map((rule) => rule.action.name)).toEqual(["a", "a"]);
  });
});

describe("a cell guarded against spreadsheet formulas", () => {
  it("is read without the quote in front of the formula start, as formatRulesCsv writes it", () => {
    const text = [
      "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key,MetricName",
      "aggregator,'=cmd,'@a,'-b,greater,1,na,999,no,9999-99-99,9999-99-99,'+k,na",
      "aggregator,'plain,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,quoted,na",
    ].join("\n");
    const [guarded, plain] = parseRulesCsv(text).rules;
    expect(guarded).toMatchObject({ id: "+k", event: "=cmd", where: { "@a": "-b" } });
    expect(plain).toMatchObject({ id: "quoted", event: "'plain" });
  });
});
