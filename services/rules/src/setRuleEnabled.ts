import { expectVersion } from "./expectVersion.js";
import type { Now, RuleStore, StoredRule } from "./ports.js";

/**
 * Disables or enables a rule: it stays in the rules table with `enabled: false`, which the
 * pipeline's rule source leaves out (its counters are kept, and counting resumes once enabled).
 * Setting the state it already has records nothing.
 */
export function makeSetRuleEnabled(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (id: string, enabled: boolean, expected: number | undefined, by: string) => Promise<StoredRule> {
  return async (id, enabled, expected, by) => {
    const { stored } = await deps.store.change(
      id,
      (current) => {
        const { rule } = expectVersion(id, current, expected);
        if (rule.enabled === enabled) return undefined;
        return { change: enabled ? "enable" : "disable", after: { ...rule, enabled } };
      },
      { by, at: deps.now() },
    );
    if (stored === undefined) throw new Error(`rule ${id}: the store returned no rule after changing it`);
    return stored;
  };
}
