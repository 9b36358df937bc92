import { RuleNotFoundError, RuleVersionConflictError } from "./errors.js";
import type { StoredRule } from "./ports.js";

/**
 * The rule a change applies to: it must exist and, when the caller said which version it read,
 * still be at that version.
 */
export function expectVersion(
  ruleId: string,
  current: StoredRule | undefined,
  expected: number | undefined,
): StoredRule {
  if (current === undefined) throw new RuleNotFoundError(ruleId);
  if (expected !== undefined && expected !== current.version) {
    throw new RuleVersionConflictError(ruleId, expected, current.version);
  }
  return current;
}
