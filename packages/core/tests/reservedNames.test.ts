import { describe, expect, it } from "vitest";
import {
  Engine,
  InvalidRulesError,
  parseRecord,
  parseRulesCsv,
  parseRulesJson,
  parseRulesYaml,
  validateRules,
} from "../src/index.js";
import { record, rule } from "./fixtures.js";

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";

/** The issues of a rules document that must be refused. */
function issuesOf(load: () => unknown) {
  try {
    load();
  } catch (error: unknown) {
    if (error instanceof InvalidRulesError) return error.issues;
    throw error;
  }
  throw new Error("the rules were accepted");
}

/** The issue that refuses the filter, where `at` locates it. */
function reserved(at: { line?: number; field: string }) {
  return {
    severity: "error",
    ...at,
    ruleId: "vip",
    message: expect.stringMatching(/"__proto__" is reserved.*count every purchase event.*another attribute/),
  };
}

describe("a filter on the attribute __proto__ is refused in every rule format", () => {
  const json =
    '[{"id":"vip","event":"purchase","where":{"__proto__":"vip"},"count":{"op":">","value":1},"action":{"type":"attribute","name":"vip"}}]';

  it("canonical JSON: names the field and the line", () => {
    expect(issuesOf(() => parseRulesJson(json))).toStrictEqual([
      reserved({ line: 1, field: "rules[0].where.__proto__" }),
    ]);
  });

  it("YAML", () => {
    const yaml = [
      "- id: vip",
      "  event: purchase",
      "  where: { __proto__: vip }",
      '  count: { op: ">", value: 1 }',
      "  action: { type: attribute, name: vip }",
    ].join("\n");
    expect(issuesOf(() => parseRulesYaml(yaml))).toStrictEqual([
      reserved({ line: 3, field: "rules[0].where.__proto__" }),
    ]);
  });

  it("the 12-column CSV: names the line and the AttributeName column", () => {
    const csv = [
      HEADER,
      "aggregator,purchase,__proto__,vip,greater,1,na,999,no,9999-99-99,9999-99-99,vip",
    ].join("\n");
    expect(issuesOf(() => parseRulesCsv(csv))).toStrictEqual([reserved({ line: 2, field: "AttributeName" })]);
  });

  it("stored or posted rules (parsed JSON, as the rules table and the API read them)", () => {
    expect(issuesOf(() => validateRules(JSON.parse(json)))).toStrictEqual([
      reserved({ field: "rules[0].where.__proto__" }),
    ]);
  });

  it.each(["constructor", "prototype", "toString", "hasOwnProperty"])(
    "accepts %s, which stays data: it matches only an event that has it",
    (name) => {
      const loaded = parseRulesJson(json.replace("__proto__", name));
      expect(loaded.rules[0]?.where).toStrictEqual(JSON.parse(`{"${name}":"vip"}`));
      const engine = new Engine(loaded.rules);
      expect(engine.ingest(record({ ts: 1, attributes: {} }))).toStrictEqual([]);
      expect(engine.ingest(record({ ts: 2, attributes: {} }))).toStrictEqual([]);
      engine.ingest(record({ ts: 3, attributes: { [name]: "vip" } }));
      expect(engine.ingest(record({ ts: 4, attributes: { [name]: "vip" } }))).toHaveLength(1);
    },
  );
});

describe("attribute lookups never go through the prototype", () => {
  it("a filter does not match a value only inherited (Object.prototype polluted by other code)", () => {
    const engine = new Engine([
      rule({ id: "r", event: "purchase", where: { polluted: "yes" }, count: { op: ">", value: 0 } }),
    ]);
    const prototype = Object.prototype as Record<string, unknown>;
    prototype.polluted = "yes";
    try {
      expect(engine.ingest(record({ attributes: { other: "x" }, metrics: { price: 1 } }))).toStrictEqual([]);
      // Read as the record has it: own members only, so the inherited value is no bad metric either.
      expect(engine.summary()).toMatchObject({ records: 1, applied: 1 });
    } finally {
      delete prototype.polluted;
    }
  });
});

describe("records with attributes and metrics named __proto__", () => {
  it("keeps them as data and pollutes no prototype", () => {
    const line = `{"event_type":"purchase","event_timestamp":1,"endpoint":{"User":{"UserId":"u"}},"attributes":{"__proto__":"vip","constructor":"c","n":1},"metrics":{"__proto__":2,"constructor":3}}`;
    const outcome = parseRecord(line);
    if (outcome.kind !== "event") throw new Error(`expected an event, got ${JSON.stringify(outcome)}`);
    expect(Object.entries(outcome.event.attributes)).toStrictEqual([
      ["__proto__", "vip"],
      ["constructor", "c"],
    ]);
    expect(outcome.event.metrics).toStrictEqual([
      ["__proto__", "2"],
      ["constructor", "3"],
    ]);
    expect(Object.getPrototypeOf(outcome.event.attributes)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).vip).toBeUndefined();
  });
});
