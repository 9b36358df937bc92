import { describe, expect, it } from "vitest";
import { formatRulesCsv } from "../src/formatRulesCsv.js";
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
  ])("leaves out a rule with %s, saying why", (_, overrides, reason) => {
    const { text, leftOut } = formatRulesCsv([{ ...base, ...overrides }]);
    expect(text).toBe(`${HEADER}\r\n`);
    expect(leftOut).toEqual([{ id: "r", reason: expect.stringContaining(reason) }]);
  });
});
