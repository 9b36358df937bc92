import type { RuleStore, StoredRule } from "./ports.js";

export function makeListRules(deps: { readonly store: RuleStore }): () => Promise<StoredRule[]> {
  return () => deps.store.list();
}
