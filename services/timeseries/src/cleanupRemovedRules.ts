import { counterKey } from "@pia/core";
import type {
  BackfillJobStore,
  CounterKeyRegistry,
  CountersOfRule,
  Decisions,
  DeleteCounters,
  LoadRules,
  Log,
} from "./ports.js";

export interface CleanupDeps {
  readonly loadRules: LoadRules;
  readonly registry: CounterKeyRegistry;
  readonly countersOfRule: CountersOfRule;
  readonly deleteCounters: DeleteCounters;
  readonly decisions: Pick<Decisions, "forget">;
  /** The backfill jobs: a forgotten counting's job goes with it. */
  readonly backfills: Pick<BackfillJobStore, "remove">;
  readonly log: Log;
}

/**
 * Deletes the counters of rules that were removed, or edited so that they count something else
 * (a new counter key): found through the registry of pushed counter keys and the `byRule` index,
 * page by page, never by a scan. The key is forgotten only after all its counters are gone, so a
 * run cut short is finished by the next; with nothing removed, a run changes nothing. The key's
 * closing decision and backfill job are removed with it (before the key: a run cut short redoes it).
 */
export function makeCleanupRemovedRules(
  deps: CleanupDeps,
): () => Promise<{ counterKeysRemoved: number; countersDeleted: number }> {
  return async () => {
    const current = new Set((await deps.loadRules()).map(counterKey));
    let counterKeysRemoved = 0;
    let countersDeleted = 0;
    for (const { counterKey: key, ruleId } of await deps.registry.list()) {
      if (current.has(key)) continue;
      for await (const page of deps.countersOfRule(key)) {
        await deps.deleteCounters(page.map(({ pk, sk }) => ({ pk, sk })));
        countersDeleted += page.length;
      }
      await deps.decisions.forget(key);
      await deps.backfills.remove(key);
      await deps.registry.forget(key);
      counterKeysRemoved++;
      deps.log.info("counters of a removed rule deleted", { ruleId });
    }
    return { counterKeysRemoved, countersDeleted };
  };
}
