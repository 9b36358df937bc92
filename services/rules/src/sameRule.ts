import { canonicalRuleJson } from "@pia/aws";
import type { Rule } from "@pia/core";

/** Equal as stored: the same canonical text (key order and `where` order do not matter). */
export function sameRule(a: Rule, b: Rule): boolean {
  return canonicalRuleJson(a) === canonicalRuleJson(b);
}
