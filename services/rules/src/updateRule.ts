import type { BackfillMode } from "@pia/aws";
import { backfillOption, type SavedRule } from "./createRule.js";
import { InvalidRuleError, VersionRequiredError } from "./errors.js";
import { expectVersion } from "./expectVersion.js";
import type { Now, RuleStore } from "./ports.js";
import { ruleSetWarnings } from "./ruleSetWarnings.js";
import { sameRule } from "./sameRule.js";
import { validateRule } from "./validateRule.js";

/**
 * Replaces an existing rule with a draft, only if it is still at `expected` (the version the
 * caller read): `VersionRequiredError` without it, `RuleNotFoundError` when there is no such rule
 * (a PUT never creates), `RuleVersionConflictError` when it moved on. The draft is the whole rule:
 * an omitted `enabled` means enabled, as in a rules file. Sending the rule unchanged records nothing.
 * With `backfill`, an update that changes what the rule counts (a new counting) also counts the
 * stored events; one that does not says so (`alreadyCounting`).
 */
export function makeUpdateRule(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (
  id: string,
  draft: unknown,
  expected: number | undefined,
  by: string,
  backfill?: BackfillMode,
) => Promise<SavedRule> {
  return async (id, draft, expected, by, backfill) => {
    const { rule, warnings } = validateRule(draft);
    if (rule.id !== id) {
      throw new InvalidRuleError(
        [
          {
            path: "id",
            message: `is ${JSON.stringify(rule.id)} but the path names rule ${JSON.stringify(id)}: a rule keeps its id; to rename it, create the new rule and delete this one`,
          },
        ],
        warnings,
      );
    }
    if (expected === undefined) throw new VersionRequiredError(id);
    const result = await deps.store.change(
      id,
      (current) => {
        const existing = expectVersion(id, current, expected);
        return sameRule(existing.rule, rule) ? undefined : { change: "update", after: rule };
      },
      { by, at: deps.now() },
      backfillOption(backfill),
    );
    const { stored } = result;
    if (stored === undefined) throw new Error(`rule ${id}: the store returned no rule after updating it`);
    return {
      stored,
      warnings: [...warnings, ...(await ruleSetWarnings(deps.store, rule))],
      ...(result.backfill === undefined ? {} : { backfill: result.backfill }),
    };
  };
}
