import type { CompiledRule, CounterRule, RollingRule } from "./compileRule.js";
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

/**
 * What is kept per (app, user, rule) of a rolling-window rule (docs/rules.md section 4.4): the
 * matching events still inside the window, in time order, with their count and sum; whether the
 * user is in; `w`, the latest instant evaluated; and how many notifications the state has given
 * (for `seq`). Events leave as soon as they expire, so it holds no more than one window's worth.
 *
 * `events` may be only the front of the window: `count` covers the whole window, and the
 * `count - events.length` events not carried are no earlier than the last one carried. The pipeline
 * so loads only what can expire in a step (`windowFrontNeeded`) instead of a heavy user's whole
 * week. A step that would need an event not carried throws `WindowNotLoadedError`.
 */
export interface RollingState {
  readonly kind: "rolling";
  readonly events: readonly WindowEvent[];
  /** Events in the window, carried or not (>= events.length). */
  readonly count: number;
  readonly sum: Decimal;
  readonly in: boolean;
  readonly w: number;
  readonly notified: number;
}

/** A matching event inside a rolling window: its time and the metric text it adds to the sum. */
export interface WindowEvent {
  readonly at: number;
  readonly metric: string | undefined;
}

/** The state of any rule for one user: totals (lifetime, date window) or a window's events (rolling). */
export type RuleState = CounterState | RollingState;

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

/**
 * A notification of a rolling rule: an entry, or (attribute actions) an exit, whose `value` is
 * `""` so that the sink removes the attribute. `seq` is its position among the state's
 * notifications (1, 2, ...): entries and exits can share an instant, so `at` cannot order them.
 * `match` is the event evaluated when it fired, absent when the passing of time fired it.
 */
export interface RollingFiring<M extends RuleMatch = RuleMatch> extends Firing {
  readonly seq: number;
  /** The attribute value to set, `""` on exit; absent for event actions. */
  readonly value?: string;
  readonly match?: M;
}

/** A (user, rule) state after a step, and what fired during it, in order. */
export interface RuleStep<F extends Firing, S extends RuleState = CounterState> {
  readonly state: S;
  readonly firings: readonly F[];
}

const EMPTY_COUNTER: CounterState = { count: 0, sum: ZERO, fired: false };

/**
 * A step needed an event of a rolling window that its state did not carry: the caller loaded too
 * little of the window (`windowFrontNeeded` says how much). Nothing was decided.
 */
export class WindowNotLoadedError extends Error {
  override readonly name = "WindowNotLoadedError";
  constructor(readonly ruleId: string) {
    super(`rule ${ruleId}: a rolling window step needed events its state does not carry`);
  }
}

/**
 * How much of a rolling window's front a step up to the instant `until` needs (every event that can
 * expire by then): all events at or before `until - L`, and the first one after them, whose expiry
 * is the state's next due instant. `until` is the latest of the state's `w`, the times of the
 * matches to apply and, for `advanceClock`, its `now`. A caller that keeps the window elsewhere
 * loads, in time order, every event at or before `through`, then one more (if there is one).
 */
export function windowFrontNeeded(compiled: RollingRule, until: number): { readonly through: number } {
  return { through: until - compiled.length };
}

/*
 * Rolling windows (docs/rules.md section 4.4) keep the window's events rather than totals, since
 * an event leaves the count when it expires, which no running total can undo without the event.
 */

/**
 * Applies matching events, in the order given, to a user's state of a rule (`undefined`: the
 * user's first match). For a lifetime or date-window rule each adds 1 to the count and its metric
 * to the sum; a streaming rule is then decided on the running totals and fires at the match's time:
 * once per user, or (reset rules) each time the target is reached anew, starting again from 0. A
 * closing rule only counts here; it is decided by `advanceClock`. A rolling rule first lets time
 * pass up to the event (expiries before it), then takes it into its window and decides at once.
 */
export function applyMatches<M extends RuleMatch>(
  compiled: CounterRule,
  state: CounterState | undefined,
  matches: Iterable<M>,
): RuleStep<MatchFiring<M>>;
export function applyMatches<M extends RuleMatch>(
  compiled: RollingRule,
  state: RollingState | undefined,
  matches: Iterable<M>,
): RuleStep<RollingFiring<M>, RollingState>;
export function applyMatches<M extends RuleMatch>(
  compiled: CompiledRule,
  state: RuleState | undefined,
  matches: Iterable<M>,
): RuleStep<MatchFiring<M> | RollingFiring<M>, RuleState>;
export function applyMatches<M extends RuleMatch>(
  compiled: CompiledRule,
  state: RuleState | undefined,
  matches: Iterable<M>,
): RuleStep<MatchFiring<M> | RollingFiring<M>, RuleState> {
  if (compiled.kind === "rolling") {
    const window = RollingWindow.of<M>(compiled, rollingStateOf(compiled, state));
    for (const match of matches) window.applyMatch(match);
    return window.step();
  }
  let current = counterStateOf(compiled, state) ?? EMPTY_COUNTER;
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
 * millisecond; a state that has fired fires no more. For a rolling rule, it is every expiry
 * instant up to `now` included, in time order: the user may exit, or (a "fewer than" or `= 0`)
 * enter. Time decides nothing for streaming rules.
 */
export function advanceClock(compiled: CounterRule, state: CounterState, now: number): RuleStep<Firing>;
export function advanceClock(
  compiled: RollingRule,
  state: RollingState,
  now: number,
): RuleStep<RollingFiring<never>, RollingState>;
export function advanceClock(
  compiled: CompiledRule,
  state: RuleState,
  now: number,
): RuleStep<Firing | RollingFiring<never>, RuleState>;
export function advanceClock(
  compiled: CompiledRule,
  state: RuleState,
  now: number,
): RuleStep<Firing | RollingFiring<never>, RuleState> {
  if (compiled.kind === "rolling") {
    const window = RollingWindow.of<never>(compiled, rollingStateOf(compiled, state));
    window.passTime(now, true);
    return window.step();
  }
  const counter = counterStateOf(compiled, state) ?? EMPTY_COUNTER;
  const close = closeOf(compiled);
  if (
    close === undefined ||
    now < close ||
    counter.fired ||
    counter.count === 0 ||
    !conditionHolds(compiled, counter.count, counter.sum)
  ) {
    return { state: counter, firings: [] };
  }
  return { state: { ...counter, fired: true }, firings: [{ at: close - 1 }] };
}

/**
 * Whether `advanceClock` to `now` decides anything for this rule: a closing rule whose window has
 * closed (now >= `to` + 1 day, 00:00 UTC). Callers use it to pick the rules whose states to visit.
 * Rolling rules are decided per state, when each is due (`nextDue`).
 */
export function isClosingDue(compiled: CompiledRule, now: number): boolean {
  const close = closeOf(compiled);
  return close !== undefined && now >= close;
}

/**
 * The earliest instant at which the passing of time can change this state: for a rolling rule,
 * its earliest pending expiry instant (the first event in the window leaves then); for a closing
 * rule not yet decided, the close of its window. Undefined when time alone changes nothing. A
 * scheduler calls `advanceClock` once its clock reaches it.
 */
export function nextDue(compiled: CompiledRule, state: RuleState): number | undefined {
  if (compiled.kind === "rolling") {
    const rolling = rollingStateOf(compiled, state);
    if (rolling === undefined) return undefined;
    const first = firstEvent(rolling);
    if (first === undefined && rolling.count > 0) throw new WindowNotLoadedError(compiled.rule.id);
    return first === undefined ? undefined : first.at + compiled.length;
  }
  const counter = counterStateOf(compiled, state);
  return counter?.fired === true ? undefined : closeOf(compiled);
}

/**
 * Whether nothing can change a user's state of a rule anymore: a once-per-user streaming rule that
 * has fired. Its totals no longer matter, so callers need neither apply nor store more matches.
 * A rolling rule is never settled: its user can always leave or come back.
 */
export function isSettled(compiled: CompiledRule, state: RuleState | undefined): boolean {
  return compiled.kind === "streaming" && state !== undefined && !isRollingState(state) && state.fired;
}

function isRollingState(state: RuleState): state is RollingState {
  return "kind" in state && state.kind === "rolling";
}

/** A state of the wrong shape for its rule is a caller's bug: refused, never decided on. */
function rollingStateOf(compiled: RollingRule, state: RuleState | undefined): RollingState | undefined {
  if (state === undefined || isRollingState(state)) return state;
  throw new TypeError(`rule ${compiled.rule.id} has a rolling window: its state must be a RollingState`);
}

function counterStateOf(compiled: CounterRule, state: RuleState | undefined): CounterState | undefined {
  if (state === undefined || !isRollingState(state)) return state;
  throw new TypeError(`rule ${compiled.rule.id} has no rolling window: its state must be a CounterState`);
}

/** Adds 1 to the count and the metric to the sum (kept only when the rule compares the sum). */
function addMatch(compiled: CounterRule, state: CounterState, metric: string | undefined): CounterState {
  const sum = compiled.rule.sum === undefined || metric === undefined ? state.sum : state.sum.plus(metric);
  return { count: state.count + 1, sum, fired: state.fired };
}

/** The instant a closing rule is decided at: the end of its window (exclusive). */
function closeOf(compiled: CompiledRule): number | undefined {
  return compiled.kind === "closing" ? compiled.windowEnd : undefined;
}

/**
 * A rolling state as this module hands it out: its events are the range [start, end) of a buffer
 * that later states of the same (app, user, rule) may share. A buffer is only ever appended to, and
 * only by the state whose range ends at the buffer's end, so no state's range ever changes: states
 * stay immutable while an event in order costs O(1) rather than a copy of the window.
 */
class BufferedState implements RollingState {
  readonly kind = "rolling";
  readonly buffer: WindowEvent[];
  readonly start: number;
  readonly end: number;
  readonly count: number;
  readonly sum: Decimal;
  readonly in: boolean;
  readonly w: number;
  readonly notified: number;

  constructor(window: Omit<BufferedState, "kind" | "events">) {
    this.buffer = window.buffer;
    this.start = window.start;
    this.end = window.end;
    this.count = window.count;
    this.sum = window.sum;
    this.in = window.in;
    this.w = window.w;
    this.notified = window.notified;
  }

  get events(): readonly WindowEvent[] {
    return this.buffer.slice(this.start, this.end);
  }
}

/** The earliest event in a rolling state's window, without copying the window. */
function firstEvent(state: RollingState): WindowEvent | undefined {
  return state instanceof BufferedState ? state.buffer[state.start] : state.events[0];
}

/**
 * One rolling state being worked on (docs/rules.md section 4.4): its window as a range of a buffer
 * that this call may append to when it owns the buffer's end, and copies otherwise; `step` hands
 * back a new state.
 */
class RollingWindow<M extends RuleMatch> {
  readonly #compiled: RollingRule;
  /** The window's events are #buffer[#start, #end), in time order (ties in the order applied). */
  #buffer: WindowEvent[];
  #start: number;
  #end: number;
  /** Whether this call may append to #buffer: no other state's range ends at its end. */
  #owned: boolean;
  /** Events in the window: #end - #start carried, the rest (no earlier than the last carried) not. */
  #count: number;
  #sum: Decimal;
  #in: boolean;
  /** The latest instant evaluated; undefined until the user's first match. */
  #w: number | undefined;
  #notified: number;
  readonly #firings: RollingFiring<M>[] = [];

  private constructor(compiled: RollingRule, state: RollingState | undefined) {
    this.#compiled = compiled;
    if (state instanceof BufferedState) {
      this.#buffer = state.buffer;
      this.#start = state.start;
      this.#end = state.end;
      this.#owned = state.buffer.length === state.end;
    } else {
      // A state from elsewhere (or none): its array is the caller's, never to be written to.
      this.#buffer = (state?.events ?? []) as WindowEvent[];
      this.#start = 0;
      this.#end = this.#buffer.length;
      this.#owned = false;
    }
    this.#count = state?.count ?? 0;
    if (!Number.isSafeInteger(this.#count) || this.#count < this.#end - this.#start) {
      throw new TypeError(`rule ${compiled.rule.id}: a rolling state's count is below the events it carries`);
    }
    this.#sum = state?.sum ?? ZERO;
    this.#in = state?.in ?? false;
    this.#w = state?.w;
    this.#notified = state?.notified ?? 0;
  }

  static of<M extends RuleMatch>(compiled: RollingRule, state: RollingState | undefined): RollingWindow<M> {
    return new RollingWindow<M>(compiled, state);
  }

  /**
   * A matching event at s: too late for any open window when s <= w - L; else the expiries before
   * s pass first, then the event joins the window and the rule is decided at max(w, s). A late
   * event (s < w) is so counted at w, the latest instant already decided, not back in time.
   */
  applyMatch(match: M): void {
    const s = match.timestamp;
    const w = this.#w;
    if (w !== undefined && s <= w - this.#compiled.length) return;
    this.passTime(s, false);
    const at = Math.max(this.#w ?? s, s);
    this.#dropUntil(at - this.#compiled.length);
    this.#insert({ at: s, metric: match.metric });
    this.#w = at;
    this.#evaluate(at, match);
  }

  /**
   * Processes the pending expiry instants before `until` (or up to it, `inclusive`), in time order.
   * Every event in the window expires after w (those at or before w - L are dropped when w moves),
   * so the pending instants are the expiries of the events in the window, earliest first.
   */
  passTime(until: number, inclusive: boolean): void {
    for (;;) {
      const first = this.#start < this.#end ? this.#buffer[this.#start] : undefined;
      if (first === undefined) {
        if (this.#count > 0) throw new WindowNotLoadedError(this.#compiled.rule.id);
        return;
      }
      const x = first.at + this.#compiled.length;
      if (inclusive ? x > until : x >= until) return;
      this.#dropUntil(x - this.#compiled.length);
      this.#w = Math.max(this.#w ?? x, x);
      this.#evaluate(x, undefined);
    }
  }

  step(): RuleStep<RollingFiring<M>, RollingState> {
    if (this.#w === undefined) throw new Error("a rolling state starts with a match, not with time");
    // Keeps a buffer at most twice its window (plus a little): dropped events are let go.
    if (this.#start > 16 && this.#start * 2 > this.#buffer.length) this.#copyRange();
    const state = new BufferedState({
      buffer: this.#buffer,
      start: this.#start,
      end: this.#end,
      count: this.#count,
      sum: this.#sum,
      in: this.#in,
      w: this.#w,
      notified: this.#notified,
    });
    return { state, firings: this.#firings };
  }

  /** Gives this call a buffer of its own holding the window's events. */
  #copyRange(): void {
    this.#buffer = this.#buffer.slice(this.#start, this.#end);
    this.#start = 0;
    this.#end = this.#buffer.length;
    this.#owned = true;
  }

  /** Drops the events at or before `last` (those whose window has passed). */
  #dropUntil(last: number): void {
    for (; this.#start < this.#end; this.#start++) {
      const event = this.#buffer[this.#start];
      if (event === undefined || event.at > last) return;
      this.#count--;
      if (this.#keepsSum() && event.metric !== undefined) this.#sum = this.#sum.minus(event.metric);
    }
    // Every carried event left: those not carried may be due too, and only their keeper knows.
    if (this.#count > 0) throw new WindowNotLoadedError(this.#compiled.rule.id);
  }

  /** Adds an event in time order, after any of the same instant (a late one lands inside). */
  #insert(event: WindowEvent): void {
    this.#count++;
    if (this.#keepsSum() && event.metric !== undefined) this.#sum = this.#sum.plus(event.metric);
    const last = this.#end > this.#start ? this.#buffer[this.#end - 1] : undefined;
    // After the carried front (and so among the events not carried): counted, not carried.
    if (this.#count - 1 > this.#end - this.#start && (last === undefined || event.at >= last.at)) return;
    let index = this.#end;
    while (index > this.#start && (this.#buffer[index - 1]?.at ?? 0) > event.at) index--;
    // Appending to an owned buffer leaves every other state's range as it was; anything else copies.
    if (!this.#owned || index !== this.#end) {
      const offset = index - this.#start;
      this.#copyRange();
      index = offset;
    }
    this.#buffer.splice(index, 0, event);
    this.#end++;
  }

  #keepsSum(): boolean {
    return this.#compiled.rule.sum !== undefined;
  }

  /** Decides C at `at` on the window's events: an entry, an exit, or nothing. */
  #evaluate(at: number, match: M | undefined): void {
    const holds = conditionHolds(this.#compiled, this.#count, this.#sum);
    const { action } = this.#compiled.rule;
    if (holds && !this.#in) {
      this.#in = true;
      this.#fire(at, action.type === "attribute" ? action.value : undefined, match);
      if (this.#compiled.resets) {
        this.#buffer = [];
        this.#start = 0;
        this.#end = 0;
        this.#owned = true;
        this.#count = 0;
        this.#sum = ZERO;
        this.#in = false;
      }
    } else if (!holds && this.#in) {
      this.#in = false;
      // An event says nothing on exit; an attribute is removed (value "").
      if (action.type === "attribute") this.#fire(at, "", match);
    }
  }

  #fire(at: number, value: string | undefined, match: M | undefined): void {
    this.#notified++;
    this.#firings.push({
      at,
      seq: this.#notified,
      ...(value === undefined ? {} : { value }),
      ...(match === undefined ? {} : { match }),
    });
  }
}
