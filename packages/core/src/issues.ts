import type { Rule } from "./rule.js";

/** One problem found in a rules file: where it is and why. */
export interface RuleIssue {
  readonly severity: "error" | "warning";
  /** File line (CSV: the header is line 1; YAML: the line of the offending value), when known. */
  readonly line?: number;
  /** CSV column header name (e.g. `Target-C`) or canonical field path (e.g. `rules[2].count.op`). */
  readonly field?: string;
  readonly ruleId?: string;
  readonly message: string;
}

export function formatIssue(issue: RuleIssue, source?: string): string {
  const where = [source, issue.line === undefined ? undefined : `line ${issue.line}`]
    .filter((part) => part !== undefined)
    .join(":");
  const field = issue.field === undefined ? "" : `${issue.field}: `;
  const prefix = where === "" ? "" : `${where}: `;
  return `${prefix}${issue.severity}: ${field}${issue.message}`;
}

/** A rules file with at least one error; nothing of it may be loaded. */
export class InvalidRulesError extends Error {
  override readonly name = "InvalidRulesError";
  constructor(
    readonly issues: readonly RuleIssue[],
    readonly source?: string,
  ) {
    const errors = issues.filter((issue) => issue.severity === "error");
    super(
      `${source ?? "rules"}: ${errors.length} invalid ${errors.length === 1 ? "entry" : "entries"}; fix every error listed and load the file again\n${errors.map((issue) => `  ${formatIssue(issue)}`).join("\n")}`,
    );
  }
}

/** Result of loading rules: the rules and any warnings (errors throw `InvalidRulesError`). */
export interface LoadedRules {
  readonly rules: readonly Rule[];
  readonly warnings: readonly RuleIssue[];
}
