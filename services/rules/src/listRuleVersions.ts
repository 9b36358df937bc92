import { RuleNotFoundError } from "./errors.js";
import type { RuleStore, RuleVersion } from "./ports.js";

/** A rule's history, oldest first; also of a deleted rule, whose last version is the deletion. */
export function makeListRuleVersions(deps: {
  readonly store: RuleStore;
}): (id: string) => Promise<RuleVersion[]> {
  return async (id) => {
    const versions = await deps.store.history(id);
    if (versions.length === 0) throw new RuleNotFoundError(id);
    return versions;
  };
}
