import { describe, expect, it } from "vitest";
import { InvalidRulesError, type RuleIssue } from "../src/issues.js";
import { parseRulesJson, parseRulesYaml } from "../src/parseCanonicalRules.js";
import { parseRulesFile } from "../src/parseRulesFile.js";
import type { Rule } from "../src/rule.js";
import { validateRules } from "../src/ruleSchema.js";

const BIG_SPENDER_YAML = `- id: big-spender            # unique, 1-128 printable characters
  event: purchase            # exact event_type
  where: { product: table }  # optional; every listed attribute must equal exactly
  count: { op: ">", value: 3 }                    # optional
  sum: { metric: price, op: ">=", value: 180.5 }  # optional; at least one of count/sum
  window: { from: 2021-01-01, to: 2021-01-31 }    # optional; inclusive UTC dates
  action: { type: attribute, name: big_spender, value: Ready }  # or { type: event, name: trk_x }
  reset: false               # lifetime rules only
  enabled: true
`;

const BIG_SPENDER: Rule = {
  id: "big-spender",
  event: "purchase",
  where: { product: "table" },
  count: { op: ">", value: 3 },
  sum: { metric: "price", op: ">=", value: "180.5" },
  window: { from: "2021-01-01", to: "2021-01-31" },
  action: { type: "attribute", name: "big_spender", value: "Ready" },
  reset: false,
  enabled: true,
};

/** A minimal valid rule, to spread and override. */
const MINIMAL = {
  id: "r",
  event: "purchase",
  count: { op: ">", value: 3 },
  action: { type: "attribute", name: "buyer" },
};

function issuesOf(load: () => unknown): readonly RuleIssue[] {
  try {
    load();
  } catch (error) {
    if (error instanceof InvalidRulesError) return error.issues;
    throw error;
  }
  throw new Error("expected the rules to be refused");
}

const errorsOf = (load: () => unknown) => issuesOf(load).filter((issue) => issue.severity === "error");

describe("parseRulesYaml", () => {
  it("reads the docs/rules.md example; dates stay text", () => {
    expect(parseRulesYaml(BIG_SPENDER_YAML)).toEqual({ rules: [BIG_SPENDER], warnings: [] });
  });

  it("applies the defaults: action value Ready, reset false, enabled true", () => {
    const { rules } = parseRulesYaml(
      "- id: r\n  event: e\n  count: { op: '>=', value: 1 }\n  action: { type: attribute, name: n }\n",
    );
    expect(rules).toEqual([
      {
        id: "r",
        event: "e",
        count: { op: ">=", value: 1 },
        action: { type: "attribute", name: "n", value: "Ready" },
        reset: false,
        enabled: true,
      },
    ]);
  });

  it("reads the { rules: [...] } form", () => {
    const text = `rules:\n${BIG_SPENDER_YAML.replace(/^/gm, "  ").trimEnd()}\n`;
    expect(parseRulesYaml(text).rules).toEqual([BIG_SPENDER]);
  });

  it("is YAML 1.2: yes is text, so it is not a boolean", () => {
    const [issue] = errorsOf(() =>
      parseRulesYaml(
        "- id: r\n  event: e\n  count: { op: '>', value: 1 }\n  action: { type: attribute, name: n }\n  enabled: yes\n",
      ),
    );
    expect(issue).toMatchObject({
      line: 5,
      field: "rules[0].enabled",
      message: expect.stringMatching(/true or false/),
    });
  });

  it("an attribute filter on a date-like value keeps the text", () => {
    const { rules } = parseRulesYaml(
      "- id: r\n  event: e\n  where: { day: 2021-01-01, code: '007' }\n  count: { op: '>', value: 1 }\n  action: { type: event, name: trk_x }\n",
    );
    expect(rules[0]?.where).toEqual({ day: "2021-01-01", code: "007" });
  });

  it("errors carry the line of the offending node", () => {
    const text = [
      "- id: first", // 1
      "  event: purchase", // 2
      "  count:", // 3
      "    op: '=>'", // 4
      "    value: 3", // 5
      "  action: { type: attribute, name: a }", // 6
      "- id: second", // 7
      "  evnt: purchase", // 8
      "  sum: { op: '>', value: 1e3 }", // 9
      "  window:", // 10
      "    from: 2021-02-29", // 11
      "    to: 2021-03-01", // 12
      "  action:", // 13
      "    type: event", // 14
      "    name: fired", // 15
      "- id: first", // 16
      "  event: e", // 17
      "  count: { op: '<', value: 3 }", // 18
      "  action: { type: attribute, name: a }", // 19
    ].join("\n");
    expect(
      issuesOf(() => parseRulesYaml(text)).map((issue) => `${issue.line} ${issue.field} ${issue.ruleId}`),
    ).toEqual([
      "4 rules[0].count.op first",
      "7 rules[1].event second",
      "8 rules[1].evnt second",
      "11 rules[1].window.from second",
      "15 rules[1].action.name second",
      "16 rules[2].id first",
      "18 rules[2].count.op first",
    ]);
  });

  it.each([
    ["a syntax error", "- id: a\n  event: [x\n- b: c\n", 3],
    ["a duplicate key", "- id: a\n  id: b\n", 2],
    ["a bad indentation", "- id: a\n  event: e\n count: 1\n", 3],
    ["a tab indentation", "- id: a\n  event: e\n\tcount: 1\n", 3],
    ["several documents", "- id: a\n---\n- id: b\n", 2],
  ])("%s is an error with its line", (_, text, line) => {
    const [issue] = errorsOf(() => parseRulesYaml(text));
    expect(issue).toMatchObject({
      severity: "error",
      line,
      message: expect.stringMatching(/^not valid YAML: /),
    });
  });

  it.each([
    ["an empty file", ""],
    ["a single mapping", "id: a\nevent: e\n"],
    ["text", "rules\n"],
  ])("%s is not a rules document", (_, text) => {
    const [issue] = errorsOf(() => parseRulesYaml(text));
    expect(issue?.message).toMatch(/expected a list of rules/);
  });
});

describe("parseRulesJson", () => {
  const json = JSON.stringify(
    [{ ...BIG_SPENDER, where: { product: "table" }, sum: { ...BIG_SPENDER.sum, value: 180.5 } }],
    null,
    2,
  );

  it("reads canonical rules", () => {
    expect(parseRulesJson(json)).toEqual({ rules: [BIG_SPENDER], warnings: [] });
  });

  it("reads the { rules: [...] } form, with a BOM", () => {
    expect(parseRulesJson(`\uFEFF{ "rules": ${json} }`).rules).toEqual([BIG_SPENDER]);
  });

  it("an empty list is no rules", () => {
    expect(parseRulesJson("[]")).toEqual({ rules: [], warnings: [] });
    expect(parseRulesJson('{"rules": []}')).toEqual({ rules: [], warnings: [] });
  });

  it.each([
    ["a trailing comma", '[\n  { "id": "a",\n  }\n]', 3],
    ["a missing bracket", '[\n  { "id": "a" }\n', 3],
    ["an empty file", "", 1],
  ])("%s is a syntax error with its line", (_, text, line) => {
    const [issue] = errorsOf(() => parseRulesJson(text));
    expect(issue).toMatchObject({
      severity: "error",
      line,
      message: expect.stringMatching(/^not valid JSON/),
    });
  });

  it("validation errors carry the line of the offending key", () => {
    const text =
      '[\n  {\n    "id": "a",\n    "event": "e",\n    "count": { "op": ">", "value": -1 },\n    "action": { "type": "attribute", "name": "n" }\n  }\n]';
    const [issue] = errorsOf(() => parseRulesJson(text));
    expect(issue).toMatchObject({ line: 5, field: "rules[0].count.value", ruleId: "a" });
  });
});

describe("validateRules", () => {
  const accepted = (rule: Record<string, unknown>) => validateRules([rule]).rules[0];

  it.each<[string, Record<string, unknown>, Partial<Rule>]>([
    [
      "a digit string count",
      { ...MINIMAL, count: { op: "=", value: "12" } },
      { count: { op: "=", value: 12 } },
    ],
    ["a zero count", { ...MINIMAL, count: { op: ">=", value: 0 } }, { count: { op: ">=", value: 0 } }],
    [
      "a number sum, as decimal text",
      { ...MINIMAL, sum: { op: ">", value: 0.1 } },
      { sum: { op: ">", value: "0.1" } },
    ],
    [
      "a huge number sum, in plain notation",
      { ...MINIMAL, sum: { op: ">", value: 1e21 } },
      { sum: { op: ">", value: "1000000000000000000000" } },
    ],
    [
      "a decimal string sum, exact",
      { ...MINIMAL, sum: { op: ">", value: "-2.50" } },
      { sum: { op: ">", value: "-2.50" } },
    ],
    [
      "a long decimal string sum",
      { ...MINIMAL, sum: { op: ">", value: "0.10000000000000000000000000000000000001" } },
      { sum: { op: ">", value: "0.10000000000000000000000000000000000001" } },
    ],
    [
      "an event action",
      { ...MINIMAL, action: { type: "event", name: "trk_buyer" } },
      { action: { type: "event", name: "trk_buyer" } },
    ],
    [
      "a lifetime reset rule",
      { ...MINIMAL, action: { type: "event", name: "trk_b" }, reset: true },
      { reset: true },
    ],
    ["a lifetime '='", { ...MINIMAL, count: { op: "=", value: 3 } }, { count: { op: "=", value: 3 } }],
    [
      "a window '<'",
      { ...MINIMAL, sum: { op: "<=", value: 5 }, window: { from: "2021-01-01", to: "2021-01-01" } },
      { sum: { op: "<=", value: "5" } },
    ],
    ["a disabled rule", { ...MINIMAL, enabled: false }, { enabled: false }],
    ["an id of 128 characters", { ...MINIMAL, id: "é".repeat(128) }, { id: "é".repeat(128) }],
    ["an id with spaces and symbols", { ...MINIMAL, id: "Big spender #2 (€)" }, { id: "Big spender #2 (€)" }],
  ])("accepts %s", (_, rule, expected) => {
    expect(accepted(rule)).toMatchObject(expected);
  });

  it.each<[string, unknown, string, RegExp]>([
    [
      "an unknown key",
      { ...MINIMAL, evnt: "x" },
      "rules[0].evnt",
      /unknown key "evnt" \(did you mean "event"\?\)/,
    ],
    [
      "an unknown key in count",
      { ...MINIMAL, count: { op: ">", value: 1, vlaue: 2 } },
      "rules[0].count.vlaue",
      /did you mean "value"/,
    ],
    [
      "a value on an event action",
      { ...MINIMAL, action: { type: "event", name: "trk_x", value: "Ready" } },
      "rules[0].action.value",
      /event action has no value/,
    ],
    ["a missing id", { ...MINIMAL, id: undefined }, "rules[0].id", /add id/],
    ["an empty id", { ...MINIMAL, id: "" }, "rules[0].id", /empty/],
    ["a numeric id", { ...MINIMAL, id: 7 }, "rules[0].id", /must be text, got 7; quote it/],
    ["an id of 129 characters", { ...MINIMAL, id: "x".repeat(129) }, "rules[0].id", /at most 128/],
    ["an id with a control character", { ...MINIMAL, id: "a\tb" }, "rules[0].id", /control character/],
    ["a missing event", { ...MINIMAL, event: undefined }, "rules[0].event", /add event/],
    ["an empty event", { ...MINIMAL, event: "" }, "rules[0].event", /empty/],
    ["a trk_ event", { ...MINIMAL, event: "trk_buyer" }, "rules[0].event", /never counted/],
    ["a _ event", { ...MINIMAL, event: "_session.start" }, "rules[0].event", /never counted/],
    ["a number in where", { ...MINIMAL, where: { size: 5 } }, "rules[0].where.size", /quote it: "5"/],
    ["an empty value in where", { ...MINIMAL, where: { size: "" } }, "rules[0].where.size", /empty/],
    [
      "an empty attribute name in where",
      { ...MINIMAL, where: { "": "x" } },
      'rules[0].where[""]',
      /attribute name is empty/,
    ],
    ["where as a list", { ...MINIMAL, where: ["a"] }, "rules[0].where", /must be a mapping/],
    [
      "an unknown operator",
      { ...MINIMAL, count: { op: "=>", value: 1 } },
      "rules[0].count.op",
      /unknown operator "=>"; use one of >, >=, =, <, <=/,
    ],
    ["a missing operator", { ...MINIMAL, count: { value: 1 } }, "rules[0].count.op", /add op/],
    [
      "a fractional count",
      { ...MINIMAL, count: { op: ">", value: 1.5 } },
      "rules[0].count.value",
      /whole number >= 0/,
    ],
    [
      "a negative count",
      { ...MINIMAL, count: { op: ">", value: -1 } },
      "rules[0].count.value",
      /whole number >= 0/,
    ],
    [
      "a non-digit count string",
      { ...MINIMAL, count: { op: ">", value: "3.0" } },
      "rules[0].count.value",
      /whole number >= 0/,
    ],
    ["a missing count value", { ...MINIMAL, count: { op: ">" } }, "rules[0].count.value", /add value/],
    ["count as a number", { ...MINIMAL, count: 3 }, "rules[0].count", /must be a mapping, e.g. count:/],
    [
      "a sum with exponent text",
      { ...MINIMAL, sum: { op: ">", value: "1e3" } },
      "rules[0].sum.value",
      /without exponent/,
    ],
    [
      "a sum of text",
      { ...MINIMAL, sum: { op: ">", value: "lots" } },
      "rules[0].sum.value",
      /must be a number/,
    ],
    [
      "a sum of 39 digits",
      { ...MINIMAL, sum: { op: ">", value: "1".repeat(39) } },
      "rules[0].sum.value",
      /38 significant digits/,
    ],
    [
      "an empty metric",
      { ...MINIMAL, sum: { metric: "", op: ">", value: 1 } },
      "rules[0].sum.metric",
      /empty/,
    ],
    ["no count nor sum", { ...MINIMAL, count: undefined }, "rules[0]", /add count, sum or both/],
    [
      "a lifetime count '<'",
      { ...MINIMAL, count: { op: "<", value: 3 } },
      "rules[0].count.op",
      /lifetime 'fewer than' can never be final; add a window/,
    ],
    [
      "a lifetime sum '<='",
      { ...MINIMAL, sum: { op: "<=", value: 3 } },
      "rules[0].sum.op",
      /can never be final/,
    ],
    [
      "an impossible window date",
      { ...MINIMAL, window: { from: "2021-02-29", to: "2021-03-01" } },
      "rules[0].window.from",
      /not a real calendar date/,
    ],
    [
      "a window date with a time",
      { ...MINIMAL, window: { from: "2021-01-01", to: "2021-01-31T00:00" } },
      "rules[0].window.to",
      /YYYY-MM-DD/,
    ],
    [
      "a window ending before it starts",
      { ...MINIMAL, window: { from: "2021-02-01", to: "2021-01-31" } },
      "rules[0].window.to",
      /swap/,
    ],
    [
      "a window without to",
      { ...MINIMAL, window: { from: "2021-02-01" } },
      "rules[0].window.to",
      /add the date/,
    ],
    [
      "an event action without trk_",
      { ...MINIMAL, action: { type: "event", name: "buyer" } },
      "rules[0].action.name",
      /must start with "trk_".*never counted/,
    ],
    [
      "an unknown action type",
      { ...MINIMAL, action: { type: "email", name: "x" } },
      "rules[0].action.type",
      /unknown action type "email"/,
    ],
    ["an action without type", { ...MINIMAL, action: { name: "x" } }, "rules[0].action.type", /add type/],
    [
      "an empty action name",
      { ...MINIMAL, action: { type: "attribute", name: "" } },
      "rules[0].action.name",
      /empty/,
    ],
    ["a missing action", { ...MINIMAL, action: undefined }, "rules[0].action", /must be a mapping/],
    ["reset as text", { ...MINIMAL, reset: "yes" }, "rules[0].reset", /true or false/],
    ["a rule that is not a mapping", "r", "rules[0]", /must be a mapping/],
  ])("refuses %s", (_, rule, field, message) => {
    const errors = errorsOf(() => validateRules([rule]));
    expect(errors).toEqual([expect.objectContaining({ field, message: expect.stringMatching(message) })]);
  });

  it("names the rule in its issues", () => {
    const [issue] = errorsOf(() => validateRules([{ ...MINIMAL, id: "mine", count: { op: "?", value: 1 } }]));
    expect(issue?.ruleId).toBe("mine");
  });

  it("refuses duplicate ids, naming the first", () => {
    const errors = errorsOf(() => validateRules({ rules: [MINIMAL, { ...MINIMAL, id: "other" }, MINIMAL] }));
    expect(errors).toEqual([
      expect.objectContaining({
        field: "rules[2].id",
        ruleId: "r",
        message: expect.stringMatching(/duplicate id "r": rules\[0\]/),
      }),
    ]);
  });

  it("lists every error of every rule", () => {
    const errors = errorsOf(() =>
      validateRules([
        { ...MINIMAL, count: { op: "<", value: -1 }, extra: 1 },
        MINIMAL,
        { ...MINIMAL, id: "s", event: "_x", action: { type: "event", name: "x" } },
      ]),
    );
    expect(errors.map((issue) => issue.field)).toEqual([
      "rules[0].count.value",
      "rules[0].extra",
      "rules[0].count.op",
      "rules[1].id",
      "rules[2].event",
      "rules[2].action.name",
    ]);
  });

  it("warns that reset is ignored on a window rule and stores false", () => {
    const { rules, warnings } = validateRules([
      {
        ...MINIMAL,
        action: { type: "event", name: "trk_b" },
        reset: true,
        window: { from: "2021-01-01", to: "2021-01-31" },
      },
    ]);
    expect(rules[0]?.reset).toBe(false);
    expect(warnings).toEqual([
      expect.objectContaining({
        severity: "warning",
        field: "rules[0].reset",
        message: expect.stringMatching(/ignored/),
      }),
    ]);
  });

  it("warns about attribute names and values longer than Pinpoint accepts", () => {
    const { rules, warnings } = validateRules([
      { ...MINIMAL, action: { type: "attribute", name: "n".repeat(51), value: "v".repeat(101) } },
      { ...MINIMAL, id: "ok", action: { type: "attribute", name: "n".repeat(50), value: "v".repeat(100) } },
    ]);
    expect(rules).toHaveLength(2);
    expect(warnings.map((issue) => `${issue.severity} ${issue.field}`)).toEqual([
      "warning rules[0].action.name",
      "warning rules[0].action.value",
    ]);
  });

  it.each([
    ["a number", 3, undefined],
    ["a mapping without rules", { rule: [] }, undefined],
    ["rules that are not a list", { rules: { id: "a" } }, "rules"],
    ["an extra key next to rules", { rules: [MINIMAL], version: 2 }, "version"],
  ])("refuses a document that is %s", (_, input, field) => {
    const [issue] = errorsOf(() => validateRules(input));
    expect(issue?.field).toBe(field);
  });

  it("sets the line of each issue with lineOf", () => {
    const lines = new Map([["0.count.op", 7]]);
    const [issue] = errorsOf(() =>
      validateRules([{ ...MINIMAL, count: { op: "!", value: 1 } }], (path) => lines.get(path.join("."))),
    );
    expect(issue).toMatchObject({ line: 7, field: "rules[0].count.op" });
  });

  it("gives lineOf the path in the document, also in the { rules } form", () => {
    const seen: string[] = [];
    errorsOf(() =>
      validateRules({ rules: [{ ...MINIMAL, count: { op: "!", value: 1 } }] }, (path) => {
        seen.push(path.join("."));
        return undefined;
      }),
    );
    expect(seen).toEqual(["rules.0.count.op"]);
  });
});

describe("parseRulesFile", () => {
  const csv = `RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key
aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,aggregatorpageview
`;
  const json = JSON.stringify([MINIMAL]);
  const yaml =
    "- id: r\n  event: purchase\n  count: { op: '>', value: 3 }\n  action: { type: attribute, name: buyer }\n";

  it.each([
    ["rules.csv", csv, "aggregatorpageview"],
    ["dir.v2/RULES.CSV", csv, "aggregatorpageview"],
    ["rules.json", json, "r"],
    ["rules.yaml", yaml, "r"],
    ["C:\\rules\\rules.yml", yaml, "r"],
  ])("reads %s by its extension", (fileName, text, id) => {
    expect(parseRulesFile(fileName, text).rules.map((rule) => rule.id)).toEqual([id]);
  });

  it.each(["rules.txt", "rules", "rules.csv.bak", ".yaml"])(
    "refuses %s, an unknown extension",
    (fileName) => {
      expect(() => parseRulesFile(fileName, yaml)).toThrow(InvalidRulesError);
      expect(() => parseRulesFile(fileName, yaml)).toThrow(/\.csv .*\.json or \.yaml\/\.yml/);
    },
  );

  it.each([
    ["bad.csv", csv.replace("greater", "bigger"), 2],
    ["bad.json", "[\n{}\n", 3],
    ["bad.yaml", "- id: a\n  event: e\n  count: { op: '>', value: 1 }\n  action: { type: attribute }\n", 4],
  ])("names %s as the source of its errors", (fileName, text, line) => {
    try {
      parseRulesFile(fileName, text);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidRulesError);
      const invalid = error as InvalidRulesError;
      expect(invalid.source).toBe(fileName);
      expect(invalid.message).toContain(`${fileName}: 1 invalid entry`);
      expect(invalid.issues[0]?.line).toBe(line);
    }
  });
});

describe("action.sink", () => {
  const yaml = (sink: string) =>
    `- id: a\n  event: x\n  count: { op: ">", value: 1 }\n  action: { type: attribute, name: a, sink: ${sink} }\n`;

  it.each(["file", "pinpoint", "customer-profiles", "eventbridge", "webhook"])(
    "routes a rule to %s",
    (sink) => {
      expect(parseRulesYaml(yaml(sink)).rules[0]?.action).toEqual({
        type: "attribute",
        name: "a",
        value: "Ready",
        sink,
      });
    },
  );

  it("rejects an unknown sink, naming the known ones", () => {
    expect(() => parseRulesYaml(yaml("pinpont"))).toThrow(
      /rules\[0\]\.action\.sink: unknown sink "pinpont"; use one of file, pinpoint/,
    );
  });

  it("leaves the sink out when the rule names none (the stage's default applies)", () => {
    const action = parseRulesYaml(
      `- id: a\n  event: x\n  count: { op: ">", value: 1 }\n  action: { type: event, name: trk_a }\n`,
    ).rules[0]?.action;
    expect(action).toEqual({ type: "event", name: "trk_a" });
    expect(action).not.toHaveProperty("sink");
  });
});
