import { hash } from "node:crypto";
import { ruleKind } from "./compileRule.js";
import { isRollingWindow, type Rule } from "./rule.js";

/** Base64url characters of SHA-256 kept: 72 bits, ample for the few versions one rule id goes through. */
const FINGERPRINT_LENGTH = 12;

function byName([a]: readonly [string, string], [b]: readonly [string, string]): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The key of a rule's per-user counters: `<rule id>#<fingerprint>`, where the fingerprint digests
 * exactly what the counters accumulate and how they are decided: the event, the `where` filter,
 * the window, whether a sum is kept and of which metric (the counters only keep a sum when the rule
 * compares one; an absent metric means the first one), closing versus streaming, and reset.
 *
 * Thresholds, operators that keep the rule's kind, the action and `enabled` are left out on
 * purpose: editing a target keeps the users' counts. Any edit that changes the key starts new
 * counters from zero, and the old ones are left to the cleanup of removed counter keys. Changing
 * this encoding changes every key, which restarts every counter.
 */
export function counterKey(rule: Rule): string {
  const counted = [
    rule.event,
    Object.entries(rule.where ?? {}).sort(byName),
    rule.window === undefined
      ? null
      : isRollingWindow(rule.window)
        ? { last: rule.window.last }
        : [rule.window.from, rule.window.to],
    rule.sum === undefined ? null : { metric: rule.sum.metric ?? null },
    ruleKind(rule),
    // A date window rule never resets (see compileRule); its `reset` flag must not split its counters.
    rule.reset && (rule.window === undefined || isRollingWindow(rule.window)),
  ];
  const fingerprint = hash("sha256", JSON.stringify(counted), "base64url").slice(0, FINGERPRINT_LENGTH);
  return `${rule.id}#${fingerprint}`;
}
