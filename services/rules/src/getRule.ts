import { RuleNotFoundError } from "./errors.js";
import type { RuleStore, StoredRule } from "./ports.js";

export function makeGetRule(deps: { readonly store: RuleStore }): (id: string) => Promise<StoredRule> {
  return async (id) => {
    const stored = await deps.store.get(id);
    if (stored === undefined) throw new RuleNotFoundError(id);
    return stored;
  };
}
