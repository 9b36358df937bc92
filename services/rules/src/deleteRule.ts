import { expectVersion } from "./expectVersion.js";
import type { Now, RuleStore } from "./ports.js";

/**
 * Deletes a rule (only if still at `expected`, when given); its history stays, ending with the
 * deletion, so it can be restored. Its counters are deleted by the timeseries service's cleanup.
 */
export function makeDeleteRule(deps: {
  readonly store: RuleStore;
  readonly now: Now;
}): (id: string, expected: number | undefined, by: string) => Promise<{ version: number }> {
  return async (id, expected, by) => {
    const { version } = await deps.store.change(
      id,
      (current) => {
        expectVersion(id, current, expected);
        return { change: "delete", after: undefined };
      },
      { by, at: deps.now() },
    );
    return { version };
  };
}
