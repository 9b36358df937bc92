import type { CompiledRule } from "./compileRule.js";
import { conditionHolds } from "./compileRule.js";
import type { Decimal } from "./decimal.js";
import { ZERO } from "./decimal.js";

/*
 * The one way to decide a rule for a user, shared by `pia simulate` (Engine), previewRule and the
 * pipeline (aggregate, timeseries): matches go through `applyMatches`, the passing of time through
 * `advanceClock`. Callers never loop over the steps themselves, so they cannot decide apart, and a
 * new kind of window changes this module rather than each of them.
 */

/**
 * What is kept per (app, user, rule) of a lifetime or date-window rule, and what the pipeline
 * stores: running totals, and whether the rule has fired for the user (a reset rule instead starts
 * again from 0).
 */
export interface CounterState {
  readonly count: number;
  readonly sum: Decimal;
  readonly fired: boolean;
}

/** A matching event reduced to what deciding needs: its time and the metric text it adds to the sum. */
export interface RuleMatch {
  readonly timestamp: number;
  /** The decimal text `metricText` gives; undefined (adds 0) when the event lacks the metric. */
  readonly metric: string | undefined;
}

/** A rule firing for one user: `at` (epoch ms) is the instant its notification carries. */
export interface Firing {
  readonly at: number;
}

/** A firing caused by a match: the caller's own match comes back, to build the notification from. */
export interface MatchFiring<M extends RuleMatch> extends Firing {
  readonly match: M;
}

/** A (user, rule) state after a step, and what fired during it, in order. */
export interface RuleStep<F extends Firing> {
  readonly state: CounterState;
  readonly firings: readonly F[];
}

const EMPTY_COUNTER: CounterState = { count: 0, sum: ZERO, fired: false };

/**
 * Applies matching events, in the order given, to a user's state of a rule (`undefined`: the
 * user's first match). Each adds 1 to the count and its metric to the sum; a streaming rule is then
 * decided on the running totals and fires at the match's time: once per user, or (reset rules)
 * each time the target is reached anew, starting again from 0. A closing rule only counts here;
 * it is decided by `advanceClock`.
 */
export function applyMatches<M extends RuleMatch>(
  compiled: CompiledRule,
  state: CounterState | undefined,
  matches: Iterable<M>,
): RuleStep<MatchFiring<M>> {
  let current = state ?? EMPTY_COUNTER;
  const firings: MatchFiring<M>[] = [];
  for (const match of matches) {
    current = addMatch(compiled, current, match.metric);
    if (compiled.kind !== "streaming" || current.fired) continue;
    if (!conditionHolds(compiled, current.count, current.sum)) continue;
    current = compiled.resets ? EMPTY_COUNTER : { ...current, fired: true };
    firings.push({ match, at: match.timestamp });
  }
  return { state: current, firings };
}

/**
 * Brings a user's state of a rule to the instant `now` (epoch ms): what the passing of time decides.
 * For a closing rule whose window has closed, that is its once-only decision on the window's
 * totals, for a user with at least one matching event, stamped with the window's last
 * millisecond; a state that has fired fires no more. Time decides nothing for streaming rules.
 */
export function advanceClock(compiled: CompiledRule, state: CounterState, now: number): RuleStep<Firing> {
  const close = closeOf(compiled);
  if (
    close === undefined ||
    now < close ||
    state.fired ||
    state.count === 0 ||
    !conditionHolds(compiled, state.count, state.sum)
  ) {
    return { state, firings: [] };
  }
  return { state: { ...state, fired: true }, firings: [{ at: close - 1 }] };
}

/**
 * Whether `advanceClock` to `now` decides anything for this rule: a closing rule whose window has
 * closed (now >= `to` + 1 day, 00:00 UTC). Callers use it to pick the rules whose states to visit.
 */
export function isClosingDue(compiled: CompiledRule, now: number): boolean {
  const close = closeOf(compiled);
  return close !== undefined && now >= close;
}

/**
 * Whether nothing can change a user's state of a rule anymore: a once-per-user streaming rule that
 * has fired. Its totals no longer matter, so callers need neither apply nor store more matches.
 */
export function isSettled(compiled: CompiledRule, state: CounterState | undefined): boolean {
  return compiled.kind === "streaming" && state?.fired === true;
}

/** Adds 1 to the count and the metric to the sum (kept only when the rule compares the sum). */
function addMatch(compiled: CompiledRule, state: CounterState, metric: string | undefined): CounterState {
  const sum = compiled.rule.sum === undefined || metric === undefined ? state.sum : state.sum.plus(metric);
  return { count: state.count + 1, sum, fired: state.fired };
}

/** The instant a closing rule is decided at: the end of its window (exclusive). */
function closeOf(compiled: CompiledRule): number | undefined {
  return compiled.kind === "closing" ? compiled.windowEnd : undefined;
}
