import { DAY_MS } from "./dates.js";
import type { Decimal } from "./decimal.js";
import { toDecimal } from "./decimal.js";
import type { PiaEvent } from "./event.js";
import { isRollingWindow, type Operator, type Rule, rollingLengthMs } from "./rule.js";

/**
 * Streaming rules are decided after each matching event; closing rules once, on the totals of a
 * window that has closed (docs/rules.md section 4); rolling rules on the events of the last L
 * milliseconds, at each event and at each instant an event leaves the window (section 4.4).
 */
export type RuleKind = "streaming" | "closing" | "rolling";

interface CompiledBase {
  readonly rule: Rule;
  readonly sumTarget?: Decimal;
  readonly whereEntries: ReadonlyArray<readonly [string, string]>;
  /** Lifetime rules and rolling rules reset; a date window rule's `reset` is ignored. */
  readonly resets: boolean;
}

/** A lifetime or date-window rule: decided on running totals (`CounterState`). */
export interface CounterRule extends CompiledBase {
  readonly kind: "streaming" | "closing";
  /** Inclusive start of the window, epoch ms (00:00 UTC of `from`). */
  readonly windowStart?: number;
  /** Exclusive end of the window, epoch ms (00:00 UTC of the day after `to`): the close instant. */
  readonly windowEnd?: number;
}

/** A rolling-window rule: decided on the events of its window (`RollingState`). */
export interface RollingRule extends CompiledBase {
  readonly kind: "rolling";
  /** L, the window's length in milliseconds. */
  readonly length: number;
}

/** A rule with everything the hot path needs precomputed once. */
export type CompiledRule = CounterRule | RollingRule;

function dateToMs(date: string): number {
  const ms = Date.parse(`${date}T00:00:00.000Z`);
  if (Number.isNaN(ms)) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  return ms;
}

export function ruleKind(rule: Rule): RuleKind {
  if (rule.window === undefined) return "streaming";
  if (isRollingWindow(rule.window)) return "rolling";
  const ops = [rule.count?.op, rule.sum?.op];
  return ops.some((op) => op === "=" || op === "<" || op === "<=") ? "closing" : "streaming";
}

export function compileRule(rule: Rule): CompiledRule {
  const window = rule.window;
  const base = {
    rule,
    ...(rule.sum === undefined ? {} : { sumTarget: toDecimal(rule.sum.value) }),
    whereEntries: Object.entries(rule.where ?? {}),
  };
  if (isRollingWindow(window)) {
    const length = rollingLengthMs(window.last);
    if (length === undefined) throw new RangeError(`not a rolling window length: ${window.last}`);
    return { ...base, kind: "rolling", length, resets: rule.reset };
  }
  return {
    ...base,
    kind: ruleKind(rule) === "closing" ? "closing" : "streaming",
    ...(window === undefined
      ? {}
      : { windowStart: dateToMs(window.from), windowEnd: dateToMs(window.to) + DAY_MS }),
    resets: rule.reset && window === undefined,
  };
}

/**
 * Event type, every `where` attribute, and (date window rules) the event's UTC date in [from, to].
 * A rolling window takes every such event: which of them are in the window depends on the instant.
 */
export function matchesEvent(compiled: CompiledRule, event: PiaEvent): boolean {
  if (event.eventType !== compiled.rule.event) return false;
  for (const [name, value] of compiled.whereEntries) {
    // Own attributes only: an inherited value (a polluted Object.prototype) is not the event's.
    if (!Object.hasOwn(event.attributes, name) || event.attributes[name] !== value) return false;
  }
  return isInWindow(compiled, event.timestamp);
}

function isInWindow(compiled: CompiledRule, timestamp: number): boolean {
  if (compiled.kind === "rolling") return true;
  if (compiled.windowStart === undefined || compiled.windowEnd === undefined) return true;
  return timestamp >= compiled.windowStart && timestamp < compiled.windowEnd;
}

/**
 * The decimal text a matching event adds to the sum: the named metric, or the first metric in
 * record order when the rule names none; undefined (adds 0) when the event lacks it.
 */
export function metricText(compiled: CompiledRule, event: PiaEvent): string | undefined {
  const metric = compiled.rule.sum?.metric;
  if (metric === undefined) return event.metrics[0]?.[1];
  for (const [name, value] of event.metrics) {
    if (name === metric) return value;
  }
  return undefined;
}

function compareNumbers(left: number, op: Operator, right: number): boolean {
  switch (op) {
    case ">":
      return left > right;
    case ">=":
      return left >= right;
    case "=":
      return left === right;
    case "<":
      return left < right;
    case "<=":
      return left <= right;
  }
}

/** The AND of the count and sum comparisons the rule has, on the given totals. */
export function conditionHolds(compiled: CompiledRule, count: number, sum: Decimal): boolean {
  const { count: countCondition, sum: sumCondition } = compiled.rule;
  if (countCondition !== undefined && !compareNumbers(count, countCondition.op, countCondition.value)) {
    return false;
  }
  if (sumCondition !== undefined && compiled.sumTarget !== undefined) {
    return compareNumbers(sum.comparedTo(compiled.sumTarget), sumCondition.op, 0);
  }
  return true;
}
