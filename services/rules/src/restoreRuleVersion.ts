import type { BackfillMode } from "@pia/aws";
import { backfillOption, type SavedRule } from "./createRule.js";
import { BadRequestError, RuleNotFoundError, RuleVersionConflictError } from "./errors.js";
import type { Now, RuleStore } from "./ports.js";
import { ruleSetWarnings } from "./ruleSetWarnings.js";
import { sameRule } from "./sameRule.js";
import { validateRule } from "./validateRule.js";

/**
 * Makes a version's rule the current one again, as a new version (history is never rewritten);
 * also brings back a deleted rule. With `expected`, only if the rule id is still at that version.
 * The restored rule is validated again: the rules may have become stricter since. With
 * `backfill`, a restore whose rule counts differently from the current one (a new counting) also
 * counts the stored events.
 */
export function makeRestoreRuleVersion(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (
  id: string,
  version: number,
  expected: number | undefined,
  by: string,
  backfill?: BackfillMode,
) => Promise<SavedRule> {
  return async (id, version, expected, by, backfill) => {
    const source = await deps.store.version(id, version);
    if (source === undefined) throw new RuleNotFoundError(id, version);
    if (source.after === undefined) {
      throw new BadRequestError(
        `version ${version} of rule ${JSON.stringify(id)} deleted it: there is no rule to restore; restore the version before it (GET /rules/{id}/versions)`,
      );
    }
    const { rule, warnings } = validateRule(source.after);
    const result = await deps.store.change(
      id,
      (current, currentVersion) => {
        if (expected !== undefined && expected !== currentVersion) {
          throw new RuleVersionConflictError(id, expected, currentVersion);
        }
        if (current !== undefined && sameRule(current.rule, rule)) return undefined;
        return { change: "restore", after: rule, restoredFrom: version };
      },
      { by, at: deps.now() },
      backfillOption(backfill),
    );
    const { stored } = result;
    if (stored === undefined) throw new Error(`rule ${id}: the store returned no rule after restoring it`);
    return {
      stored,
      warnings: [...warnings, ...(await ruleSetWarnings(deps.store, rule))],
      ...(result.backfill === undefined ? {} : { backfill: result.backfill }),
    };
  };
}
