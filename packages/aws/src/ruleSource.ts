import type { Rule, RuleIssue } from "@pia/core";
import { InvalidRulesError, validateRules } from "@pia/core";
import type { BackfillBoundary } from "./backfill.js";

/** The current rules, wherever they live (the rules table, a file...). */
export type RuleSource = () => Promise<readonly Rule[]>;

export interface CachedRuleSourceOptions {
  /** How long loaded rules are served before the next load (default 60 s). */
  readonly ttlMs?: number;
  /** Epoch ms (tests inject a fake clock). */
  readonly now?: () => number;
  /** Where the rules come from, for error messages (e.g. the table name). */
  readonly source?: string;
}

export const DEFAULT_RULES_TTL_MS = 60_000;

/** `rule "id": count.op: reason`, or the position when the id itself is unusable. */
function formatStoredIssue(issue: RuleIssue): string {
  const field = issue.ruleId === undefined ? issue.field : issue.field?.replace(/^rules\[\d+\]\.?/, "");
  const subject = issue.ruleId === undefined ? undefined : `rule ${JSON.stringify(issue.ruleId)}`;
  return [subject, field === "" ? undefined : field, issue.message]
    .filter((part) => part !== undefined)
    .join(": ");
}

/**
 * Stored rules that are not valid canonical rules: a hand-edited or corrupted item, or one written
 * by an incompatible version. Every invalid rule is named by its id.
 */
export class InvalidStoredRulesError extends Error {
  override readonly name = "InvalidStoredRulesError";
  /** Ids of the invalid rules (those that have a usable id). */
  readonly ruleIds: readonly string[];
  constructor(
    readonly source: string,
    readonly issues: readonly RuleIssue[],
    options?: ErrorOptions,
  ) {
    const errors = issues.filter((issue) => issue.severity === "error");
    const ruleIds = [
      ...new Set(errors.flatMap((issue) => (issue.ruleId === undefined ? [] : [issue.ruleId]))),
    ];
    super(
      `${source}: ${errors.length} invalid stored rule${errors.length === 1 ? "" : "s"}${ruleIds.length === 0 ? "" : ` (${ruleIds.map((id) => JSON.stringify(id)).join(", ")})`}; fix the rules file and push it again (pia rules push FILE)\n${errors.map((issue) => `  ${formatStoredIssue(issue)}`).join("\n")}`,
      options,
    );
    this.ruleIds = ruleIds;
  }
}

/**
 * Checks loaded rules with the same validation as a rules file and returns them with defaults
 * applied; throws `InvalidStoredRulesError` naming every invalid rule by id.
 */
export function validateStoredRules(rules: readonly unknown[], source: string): readonly Rule[] {
  try {
    return validateRules(rules, undefined, source).rules;
  } catch (error: unknown) {
    if (!(error instanceof InvalidRulesError)) throw error;
    throw new InvalidStoredRulesError(source, error.issues, { cause: error });
  }
}

/**
 * The rules the pipeline runs and the backfills of their countings (keyed by counter key), loaded
 * together: a container that knows a rule also knows whether it is backfilled (docs/rules.md 9).
 */
export interface RuleSet {
  readonly rules: readonly Rule[];
  readonly backfills: ReadonlyMap<string, BackfillBoundary>;
}

export type RuleSetSource = () => Promise<RuleSet>;

/**
 * Serves `load`'s enabled rules (and backfills) for `ttlMs`, then loads again on the next call.
 * Concurrent callers share one load. A failed load (or invalid rules, disabled ones included) is
 * not cached and not papered over with the previous rules: it rethrows, so the calling batch fails
 * and is retried with a fresh load.
 *
 * Disabled rules (`enabled: false`) are left out: nothing the pipeline evaluates should see them.
 * They stay in the rules table, and in `RulesTable.list`, so that their counters are kept (the
 * cleanup of removed rules goes by that list) and counting resumes when they are enabled again.
 */
export function cachedRuleSet(load: RuleSetSource, options: CachedRuleSourceOptions = {}): RuleSetSource {
  const ttlMs = options.ttlMs ?? DEFAULT_RULES_TTL_MS;
  const now = options.now ?? Date.now;
  const source = options.source ?? "rules";
  let cached: { readonly set: RuleSet; readonly loadedAt: number } | undefined;
  let inFlight: Promise<RuleSet> | undefined;

  return () => {
    const at = now();
    if (cached !== undefined && at - cached.loadedAt < ttlMs) return Promise.resolve(cached.set);
    if (inFlight !== undefined) return inFlight;
    const loading: Promise<RuleSet> = Promise.resolve()
      .then(() => load())
      .then((loaded) => {
        const rules = validateStoredRules(loaded.rules, source).filter((rule) => rule.enabled);
        const set = { rules, backfills: loaded.backfills };
        // Aged from the start of the load: the rules are at least that fresh.
        cached = { set, loadedAt: at };
        return set;
      })
      .finally(() => {
        if (inFlight === loading) inFlight = undefined;
      });
    inFlight = loading;
    return loading;
  };
}
