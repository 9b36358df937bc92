import { isRollingWindow, type Rule, validateRules } from "@pia/core";
import type { FieldIssue } from "./errors.js";
import type { RuleStore } from "./ports.js";

/**
 * The warnings a rule draws only beside the other rules: the core warns when a rolling rule's
 * attribute is also set by another rule, since its exit removes the attribute whichever rule set
 * it (docs/rules.md section 1.3). `validateRule` sees one rule alone, so a write of a rolling rule
 * with an attribute action asks the core again with the stored rules (disabled ones too: they may
 * be enabled later); other writes read nothing more. Only the warnings the rule alone does not
 * draw, on its own fields. A warning, never a refusal: if the stored rules cannot be read as a set
 * (made invalid by a stricter core), there is nothing more to say.
 */
export async function ruleSetWarnings(store: RuleStore, rule: Rule): Promise<FieldIssue[]> {
  if (!isRollingWindow(rule.window) || rule.action.type !== "attribute") return [];
  const others = (await store.list()).map((stored) => stored.rule).filter((other) => other.id !== rule.id);
  if (others.length === 0) return [];
  const alone = new Set(validateRules([rule]).warnings.map((issue) => issue.message));
  let warnings: ReturnType<typeof validateRules>["warnings"];
  try {
    warnings = validateRules([...others, rule]).warnings;
  } catch {
    return [];
  }
  const prefix = `rules[${others.length}]`;
  return warnings
    .filter((issue) => issue.field?.startsWith(prefix) === true && !alone.has(issue.message))
    .map((issue) => ({
      path: (issue.field ?? "").slice(prefix.length).replace(/^\./, ""),
      message: issue.message,
    }));
}
