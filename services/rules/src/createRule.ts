import type { BackfillMode, BackfillOutcome } from "@pia/aws";
import { type FieldIssue, RuleExistsError } from "./errors.js";
import type { Now, RuleStore, StoredRule } from "./ports.js";
import { ruleSetWarnings } from "./ruleSetWarnings.js";
import { validateRule } from "./validateRule.js";

export interface SavedRule {
  readonly stored: StoredRule;
  readonly warnings: readonly FieldIssue[];
  /** With a backfill asked for: what became of it (a change never fails for it). */
  readonly backfill?: BackfillOutcome;
}

/** The store's option that asks for a backfill, requested by whoever makes the change. */
export const backfillOption = (mode: BackfillMode | undefined) =>
  mode === undefined ? {} : { backfill: { mode } };

/**
 * Creates a rule from a draft: `InvalidRuleError` when invalid, `RuleExistsError` when the id is
 * taken. With `backfill`, a new counting also counts the stored events (its job is written with
 * the rule).
 */
export function makeCreateRule(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (draft: unknown, by: string, backfill?: BackfillMode) => Promise<SavedRule> {
  return async (draft, by, backfill) => {
    const { rule, warnings } = validateRule(draft);
    const result = await deps.store.change(
      rule.id,
      (current) => {
        if (current !== undefined) throw new RuleExistsError(rule.id);
        return { change: "create", after: rule };
      },
      { by, at: deps.now() },
      backfillOption(backfill),
    );
    const { stored } = result;
    if (stored === undefined)
      throw new Error(`rule ${rule.id}: the store returned no rule after creating it`);
    return {
      stored,
      warnings: [...warnings, ...(await ruleSetWarnings(deps.store, rule))],
      ...(result.backfill === undefined ? {} : { backfill: result.backfill }),
    };
  };
}
