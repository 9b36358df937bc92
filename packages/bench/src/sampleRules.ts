import { parseRulesCsv, parseRulesJson, type Rule } from "@pia/core";
import { generateSampleRulesCsv } from "@pia/sample";

/**
 * Sample rules: `count` generated ones (about half lifetime, half windowed, spread over the six
 * event types), or without `count` the ten hand-picked default rules of the quick start.
 */
export function sampleRules(count?: number, seed = 42): readonly Rule[] {
  return parseRulesCsv(generateSampleRulesCsv(count === undefined ? { seed } : { rules: count, seed })).rules;
}

/**
 * Rolling versions of rules: each keeps its event, filters, conditions and action, with
 * `window: { last }` instead of its date window (or none); `reset` stays only where rolling windows
 * allow it (every operator `>`/`>=`, an event action). With `suffix`, ids and action names get it,
 * so that the versions can run beside the originals without sharing an attribute.
 */
export function rollingVersions(rules: readonly Rule[], last: string, suffix = ""): readonly Rule[] {
  const rolling = rules.map((rule) => {
    const ops = [rule.count?.op, rule.sum?.op].filter((op) => op !== undefined);
    const resets = rule.reset && rule.action.type === "event" && ops.every((op) => op === ">" || op === ">=");
    return {
      ...rule,
      id: `${rule.id}${suffix}`,
      action: { ...rule.action, name: `${rule.action.name}${suffix}` },
      window: { last },
      reset: resets,
    };
  });
  return parseRulesJson(JSON.stringify(rolling), "rolling versions of rules").rules;
}
