import { type FieldIssue, RuleExistsError } from "./errors.js";
import type { Now, RuleStore, StoredRule } from "./ports.js";
import { ruleSetWarnings } from "./ruleSetWarnings.js";
import { validateRule } from "./validateRule.js";

export interface SavedRule {
  readonly stored: StoredRule;
  readonly warnings: readonly FieldIssue[];
}

/** Creates a rule from a draft: `InvalidRuleError` when invalid, `RuleExistsError` when the id is taken. */
export function makeCreateRule(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (draft: unknown, by: string) => Promise<SavedRule> {
  return async (draft, by) => {
    const { rule, warnings } = validateRule(draft);
    const { stored } = await deps.store.change(
      rule.id,
      (current) => {
        if (current !== undefined) throw new RuleExistsError(rule.id);
        return { change: "create", after: rule };
      },
      { by, at: deps.now() },
    );
    if (stored === undefined)
      throw new Error(`rule ${rule.id}: the store returned no rule after creating it`);
    return { stored, warnings: [...warnings, ...(await ruleSetWarnings(deps.store, rule))] };
  };
}
