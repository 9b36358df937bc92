import { type BackfillJob, newBackfillJob } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey, isRollingWindow } from "@pia/core";
import { RuleSetConflictError, RuleVersionConflictError } from "../src/errors.js";
import type { Author, ChangeResult, RuleChange, RuleStore, RuleVersion, StoredRule } from "../src/ports.js";

/** An in-memory RuleStore with the adapter's semantics; `beforeWrite` runs between the read and the write. */
export function fakeStore() {
  const rules = new Map<string, StoredRule>();
  const versions = new Map<string, RuleVersion[]>();
  /** The counter key registry, and the backfill jobs by counter key. */
  const registered = new Set<string>();
  const backfills = new Map<string, BackfillJob>();
  const hooks: { beforeWrite?: (() => void) | undefined; failWith?: Error } = {};
  const versionOf = (id: string) => rules.get(id)?.version ?? versions.get(id)?.at(-1)?.version ?? 0;

  /** Writes a change decided from version `read` of the id. */
  function apply(id: string, change: RuleChange, read: number, author: Author): ChangeResult {
    const current = rules.get(id);
    const version = read + 1;
    const at = new Date(author.at).toISOString();
    const entry: RuleVersion = {
      ruleId: id,
      version,
      change: change.change,
      at,
      by: author.by,
      ...(current === undefined ? {} : { before: current.rule }),
      ...(change.after === undefined ? {} : { after: change.after }),
      ...(change.restoredFrom === undefined ? {} : { restoredFrom: change.restoredFrom }),
    };
    versions.set(id, [...(versions.get(id) ?? []), entry]);
    for (const rule of [current?.rule, change.after])
      if (rule !== undefined) registered.add(counterKey(rule));
    if (change.after === undefined) {
      rules.delete(id);
      return { stored: undefined, version };
    }
    const stored = { rule: change.after, version, updatedAt: at, updatedBy: author.by };
    rules.set(id, stored);
    return { stored, version };
  }

  const store: RuleStore = {
    async list() {
      if (hooks.failWith !== undefined) throw hooks.failWith;
      return [...rules.values()].sort((a, b) => (a.rule.id < b.rule.id ? -1 : 1));
    },
    async get(id) {
      return rules.get(id);
    },
    async history(id) {
      return [...(versions.get(id) ?? [])];
    },
    async version(id, version) {
      return versions.get(id)?.find((entry) => entry.version === version);
    },
    async backfill(key) {
      return backfills.get(key);
    },
    async backfills() {
      return [...backfills.values()];
    },
    async change(id, decide, author, options = {}) {
      const read = versionOf(id);
      const current = rules.get(id);
      const change = decide(current, read);
      const rolling = (rule: Rule) => rule.window !== undefined && isRollingWindow(rule.window);
      if (change === undefined) {
        if (options.backfill === undefined || current === undefined)
          return { stored: current, version: read };
        return {
          stored: current,
          version: read,
          backfill: rolling(current.rule) ? "notSupported" : "alreadyCounting",
        };
      }
      hooks.beforeWrite?.();
      if (versionOf(id) !== read) throw new RuleVersionConflictError(id, read, undefined);
      const after = change.after;
      let backfill: ChangeResult["backfill"];
      if (options.backfill !== undefined && after !== undefined) {
        const key = counterKey(after);
        if (rolling(after)) backfill = "notSupported";
        else if (registered.has(key)) backfill = "alreadyCounting";
        else {
          backfill = "requested";
          backfills.set(
            key,
            newBackfillJob(key, id, { ...options.backfill, requestedBy: author.by }, author.at),
          );
        }
      }
      return { ...apply(id, change, read, author), ...(backfill === undefined ? {} : { backfill }) };
    },
    async changeSet(decide, author, options = {}) {
      const changes = decide(await store.list());
      const read = new Map(changes.map(({ id }) => [id, versionOf(id)]));
      const changed = changes.map(({ id, change }) => ({
        id,
        change: change.change,
        version: (read.get(id) ?? 0) + 1,
      }));
      if (options.dryRun || changes.length === 0) return { changed, transactionItems: changes.length };
      hooks.beforeWrite?.();
      const moved = changes.filter(({ id }) => versionOf(id) !== read.get(id)).map(({ id }) => id);
      if (moved.length > 0) throw new RuleSetConflictError(moved);
      for (const { id, change } of changes) apply(id, change, read.get(id) ?? 0, author);
      return { changed, transactionItems: changes.length };
    },
  };

  /** Puts a rule as if written by someone else (a concurrent request). */
  const sneak = (rule: Rule) => {
    const version = versionOf(rule.id) + 1;
    rules.set(rule.id, { rule, version });
    versions.set(rule.id, [
      ...(versions.get(rule.id) ?? []),
      {
        ruleId: rule.id,
        version,
        change: "update",
        at: "2030-01-01T00:00:00.000Z",
        by: "someone",
        after: rule,
      },
    ]);
  };
  return { store, rules, versions, hooks, sneak, registered, backfills };
}
