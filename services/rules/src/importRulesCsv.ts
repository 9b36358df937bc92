import type { Rule, RuleIssue } from "@pia/core";
import { InvalidRulesError, parseRulesCsv } from "@pia/core";
import { BadRequestError, InvalidRulesFileError } from "./errors.js";
import type { Author, Now, RuleSetChange, RuleStore, StoredRule } from "./ports.js";
import { sameRule } from "./sameRule.js";

/** What an import did (or, dry, would do), by rule id; and the file's warnings. */
export interface ImportResult {
  readonly dryRun: boolean;
  readonly created: readonly string[];
  readonly updated: readonly string[];
  readonly deleted: readonly string[];
  readonly unchanged: readonly string[];
  readonly warnings: readonly FileIssue[];
}

/** A problem of the file: its line (the header is line 1) and column, as `pia rules push` tells it. */
export interface FileIssue {
  readonly line?: number;
  readonly column?: string;
  readonly ruleId?: string;
  readonly message: string;
}

const fileIssue = (issue: RuleIssue): FileIssue => ({
  ...(issue.line === undefined ? {} : { line: issue.line }),
  ...(issue.field === undefined ? {} : { column: issue.field }),
  ...(issue.ruleId === undefined ? {} : { ruleId: issue.ruleId }),
  message: issue.message,
});

/** The changes that make `rules` the whole rule set, from what is stored now. */
function planReplace(current: readonly StoredRule[], rules: readonly Rule[]): RuleSetChange[] {
  const stored = new Map(current.map((entry) => [entry.rule.id, entry.rule]));
  const ids = new Set(rules.map((rule) => rule.id));
  return [
    ...rules.flatMap((rule): RuleSetChange[] => {
      const before = stored.get(rule.id);
      if (before === undefined) return [{ id: rule.id, change: { change: "create", after: rule } }];
      return sameRule(before, rule) ? [] : [{ id: rule.id, change: { change: "update", after: rule } }];
    }),
    ...current
      .filter((entry) => !ids.has(entry.rule.id))
      .map((entry): RuleSetChange => ({ id: entry.rule.id, change: { change: "delete", after: undefined } })),
  ];
}

/**
 * `POST /rules/import`: makes a 12-column CSV (docs/rules.md section 1.2) the whole rule set, as
 * `pia rules push` does with the same file, but all or nothing and versioned: the file is parsed by
 * the core (`parseRulesCsv`, every error listed with line and column: nothing is written), then
 * its rules are created, updated or kept, and the rules it does not have are deleted, in one
 * transaction. A file without rules is refused: it would delete every rule.
 */
export function makeImportRulesCsv(deps: { readonly store: RuleStore; readonly now: Now }) {
  return async (csv: string, options: { readonly dryRun: boolean }, by: string): Promise<ImportResult> => {
    let rules: readonly Rule[];
    let warnings: readonly RuleIssue[];
    try {
      ({ rules, warnings } = parseRulesCsv(csv));
    } catch (error: unknown) {
      if (!(error instanceof InvalidRulesError)) throw error;
      const issues = error.issues.filter((issue) => issue.severity === "error").map(fileIssue);
      throw new InvalidRulesFileError(
        issues,
        error.issues.filter((i) => i.severity === "warning").map(fileIssue),
        {
          cause: error,
        },
      );
    }
    if (rules.length === 0) {
      throw new BadRequestError(
        "the CSV has no rule rows, and importing it would delete every rule; nothing written (delete rules one by one instead)",
      );
    }
    const author: Author = { by, at: deps.now() };
    let plan: RuleSetChange[] = [];
    let unchanged: string[] = [];
    await deps.store.changeSet(
      (current) => {
        plan = planReplace(current, rules);
        const changed = new Set(plan.map((entry) => entry.id));
        unchanged = rules.filter((rule) => !changed.has(rule.id)).map((rule) => rule.id);
        return plan;
      },
      author,
      { dryRun: options.dryRun },
    );
    const ids = (kind: string) =>
      plan.filter((entry) => entry.change.change === kind).map((entry) => entry.id);
    return {
      dryRun: options.dryRun,
      created: ids("create"),
      updated: ids("update"),
      deleted: ids("delete"),
      unchanged,
      warnings: warnings.map(fileIssue),
    };
  };
}
