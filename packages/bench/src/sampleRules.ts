import { parseRulesCsv, type Rule } from "@pia/core";
import { generateSampleRulesCsv } from "@pia/sample";

/**
 * Sample rules: `count` generated ones (about half lifetime, half windowed, spread over the six
 * event types), or without `count` the ten hand-picked default rules of the quick start.
 */
export function sampleRules(count?: number, seed = 42): readonly Rule[] {
  return parseRulesCsv(generateSampleRulesCsv(count === undefined ? { seed } : { rules: count, seed })).rules;
}
