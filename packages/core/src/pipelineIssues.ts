import type { RuleIssue } from "./issues.js";
import { isRollingWindow, type Rule } from "./rule.js";

/** Why the pipeline refuses a rolling rule, in every place that refuses it. */
export const ROLLING_NOT_IN_PIPELINE =
  "rolling windows (window.last) run in pia simulate only; the pipeline does not run them yet";

/**
 * What the deployed pipeline cannot run among valid rules: rolling windows, which its counters
 * (totals, decided by event or at a window's close) cannot decide. `pia rules push` and `pia local`
 * (before they start), the rules API (validateRule) and the rules table's `put` (every file push,
 * `pia local --ui` included) refuse such rules here, so that none is stored and then mis-counted.
 * Disabled rules are refused too: enabling one later would not be checked again.
 */
export function pipelineIssues(rules: readonly Rule[]): RuleIssue[] {
  return rules.flatMap((rule, index): RuleIssue[] =>
    isRollingWindow(rule.window)
      ? [
          {
            severity: "error",
            field: `rules[${index}].window.last`,
            ruleId: rule.id,
            message: `${ROLLING_NOT_IN_PIPELINE}: try this rule with pia simulate, or give it a date window (from, to) to push it`,
          },
        ]
      : [],
  );
}
