import type { CompiledRule } from "./compileRule.js";
import { conditionHolds } from "./compileRule.js";
import type { Decimal } from "./decimal.js";
import { ZERO } from "./decimal.js";

/**
 * What the pipeline stores per (app, user, rule): running totals and whether a once-per-user
 * rule has fired (or a closing rule has been decided).
 */
export interface CounterState {
  readonly count: number;
  readonly sum: Decimal;
  readonly fired: boolean;
}

export const EMPTY_COUNTER: CounterState = { count: 0, sum: ZERO, fired: false };

export interface StreamingDecision {
  readonly state: CounterState;
  readonly fire: boolean;
}

/**
 * Adds one matching event to a counter: 1 to the count and its metric to the sum (only kept when
 * the rule compares the sum; a missing metric adds 0).
 */
export function addMatch(
  compiled: CompiledRule,
  state: CounterState,
  metric: string | undefined,
): CounterState {
  const sum = compiled.rule.sum === undefined || metric === undefined ? state.sum : state.sum.plus(metric);
  return { count: state.count + 1, sum, fired: state.fired };
}

/**
 * Decides a streaming rule on running totals, right after a matching event was added: it fires
 * once per user, or (reset rules) every time the target is reached anew, starting again from 0.
 */
export function decideStreaming(compiled: CompiledRule, state: CounterState): StreamingDecision {
  if (state.fired || !conditionHolds(compiled, state.count, state.sum)) return { state, fire: false };
  if (compiled.resets) return { state: EMPTY_COUNTER, fire: true };
  return { state: { ...state, fired: true }, fire: true };
}

/** Whether a closing rule's window has closed at `now` (now >= `to` + 1 day, 00:00 UTC). */
export function isWindowClosed(compiled: CompiledRule, now: number): boolean {
  return compiled.windowEnd !== undefined && now >= compiled.windowEnd;
}

/**
 * The once-only decision of a closing rule for one user with at least one matching event in the
 * window, on the window's totals.
 */
export function decideClosing(compiled: CompiledRule, state: CounterState, now: number): boolean {
  return (
    compiled.kind === "closing" &&
    isWindowClosed(compiled, now) &&
    !state.fired &&
    state.count > 0 &&
    conditionHolds(compiled, state.count, state.sum)
  );
}

/** The instant a closing decision is stamped with: the window's last millisecond. */
export function closingInstant(compiled: CompiledRule): number {
  if (compiled.windowEnd === undefined) throw new RangeError(`rule ${compiled.rule.id} has no window`);
  return compiled.windowEnd - 1;
}
