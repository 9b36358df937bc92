import type { Rule, RuleIssue } from "@pia/core";
import { InvalidRulesError, validateRules } from "@pia/core";
import { type FieldIssue, InvalidRuleError } from "./errors.js";

/** A draft that is a valid rule, with defaults applied, and the warnings about it. */
export interface ValidRule {
  readonly rule: Rule;
  readonly warnings: readonly FieldIssue[];
}

/** The core names fields inside a rules document (`rules[0].action.type`); a draft is one rule. */
function fieldIssue(issue: RuleIssue): FieldIssue {
  const path = (issue.field ?? "").replace(/^rules\[0\]\.?/, "");
  return { path, message: issue.message };
}

/** Ids that `GET /rules/{id}` cannot reach: the API's own `GET /rules/schema` and `/rules/export` win. */
const RESERVED_IDS: readonly string[] = ["schema", "export"];

/**
 * The API addresses a rule by its id in the path, and API Gateway HTTP APIs hand the path over
 * decoded: an id with `/` or `?` could be stored but never read, changed or deleted through the API.
 */
function idProblem(draft: unknown): FieldIssue | undefined {
  if (typeof draft !== "object" || draft === null) return undefined;
  const id = (draft as { id?: unknown }).id;
  if (typeof id === "string" && RESERVED_IDS.includes(id)) {
    return {
      path: "id",
      message: `"${id}" names the API's own GET /rules/${id}, so GET /rules/{id} could never read the rule; pick another id`,
    };
  }
  if (typeof id !== "string" || !/[/?]/.test(id)) return undefined;
  return {
    path: "id",
    message: `must not contain "/" or "?": the rules API addresses a rule by its id in the path; use another character, e.g. "-"`,
  };
}

/**
 * Validates one draft rule as the core validates a rules file (the same schema, the same messages),
 * and names each problem by its field. Rolling windows (`window.last`) are rules like any other
 * here: the core alone decides what is valid. Throws `InvalidRuleError` listing every error.
 */
export function validateRule(draft: unknown): ValidRule {
  const extra = idProblem(draft);
  try {
    const { rules, warnings } = validateRules([draft]);
    const [rule] = rules;
    if (rule === undefined) throw new Error("validateRules returned no rule for a valid draft");
    if (extra !== undefined) throw new InvalidRuleError([extra], warnings.map(fieldIssue));
    return { rule, warnings: warnings.map(fieldIssue) };
  } catch (error: unknown) {
    if (!(error instanceof InvalidRulesError)) throw error;
    const errors = error.issues.filter((issue) => issue.severity === "error").map(fieldIssue);
    const warnings = error.issues.filter((issue) => issue.severity === "warning").map(fieldIssue);
    throw new InvalidRuleError(extra === undefined ? errors : [extra, ...errors], warnings, { cause: error });
  }
}
