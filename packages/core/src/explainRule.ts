import type { CompiledRule } from "./compileRule.js";
import { compileRule, conditionHolds, metricText, type RuleKind } from "./compileRule.js";
import type { RuleState } from "./decideRule.js";
import { canonicalDecimal, ZERO } from "./decimal.js";
import { Engine } from "./Engine.js";
import type { PiaEvent, SkipReason } from "./event.js";
import type { Notification } from "./notification.js";
import { type RecordReader, recordReader } from "./recordReader.js";
import { isRollingWindow, type Rule } from "./rule.js";

/** An event that counted for the rule: applied to the user's state by the engine. */
export interface CountedEvent {
  /** Epoch ms. */
  readonly at: number;
  readonly identity: string;
  /** The metric text it added to the sum; undefined (adds 0) when the event lacks it. */
  readonly metric: string | undefined;
}

/** One (app, user) of the rule: its state as `pia simulate` leaves it at `now`, and how it got there. */
export interface AppExplanation {
  readonly appId: string;
  /** Totals of the state: since the last firing for a reset rule, the window's for a rolling rule. */
  readonly count: number;
  readonly sum: string;
  /** Rolling rules: the window the totals are over, (start, end] in epoch ms. */
  readonly window?: { readonly start: number; readonly end: number };
  /** Whether the condition holds on these totals; false when no event counted (nothing to decide). */
  readonly holds: boolean;
  /** Every notification of the rule for this (app, user), in the order `pia simulate` writes them. */
  readonly notifications: readonly Notification[];
  /** The events that counted, newest first (ties: later in the input first). */
  readonly events: readonly CountedEvent[];
}

export interface RuleExplanation {
  readonly rule: Rule;
  readonly kind: RuleKind;
  /** The rule in words, e.g. `pageview: count > 5 in the last 7 days`. */
  readonly words: string;
  /** The condition alone, e.g. `count > 1 and sum of price > 180`. */
  readonly condition: string;
  /** What a firing does, e.g. `set attribute vip = yes`. */
  readonly action: string;
  readonly userId: string;
  readonly now: number;
  /** Closing rules: the instant the window closes and the rule is decided (epoch ms). */
  readonly closesAt?: number;
  /** One per app the user has events in (only `appId` when given), in order of first event. */
  readonly apps: readonly AppExplanation[];
}

const UNIT_WORDS: Readonly<Record<string, string>> = { d: "day", h: "hour" };

/** The condition of a rule in words: `count > 1 and sum of price > 180`. */
export function conditionWords(rule: Rule): string {
  const parts: string[] = [];
  if (rule.count !== undefined) parts.push(`count ${rule.count.op} ${rule.count.value}`);
  if (rule.sum !== undefined) {
    parts.push(`sum of ${rule.sum.metric ?? "the first metric"} ${rule.sum.op} ${rule.sum.value}`);
  }
  return parts.length === 0 ? "every matching event" : parts.join(" and ");
}

/**
 * A rule in words: `purchase where product = chair: count > 1 and sum of price > 180, between
 * 2021-01-01 and 2021-02-28 (closing)`, `pageview: count > 5 in the last 7 days`.
 */
export function ruleWords(rule: Rule): string {
  const where = Object.entries(rule.where ?? {})
    .map(([name, value]) => `${name} = ${value}`)
    .join(" and ");
  const head = where === "" ? rule.event : `${rule.event} where ${where}`;
  const kind = compileRule(rule);
  let scope: string;
  if (isRollingWindow(rule.window)) {
    const [, amount = "", unit = ""] = /^(\d+)([dh])$/.exec(rule.window.last) ?? [];
    const noun = UNIT_WORDS[unit] ?? unit;
    scope = ` in the last ${amount} ${noun}${amount === "1" ? "" : "s"}`;
  } else if (rule.window !== undefined) {
    scope = `, between ${rule.window.from} and ${rule.window.to} (${kind.kind})`;
  } else {
    scope = " (lifetime)";
  }
  const again = kind.resets ? ", again each time it is reached (reset)" : "";
  return `${head}: ${conditionWords(rule)}${scope}${again}`;
}

function actionWords(rule: Rule): string {
  const { action } = rule;
  return action.type === "attribute"
    ? `set attribute ${action.name} = ${action.value}`
    : `send event ${action.name}`;
}

/**
 * What an app's totals are over, in words (`pia explain` and the editor's explain panel say it):
 * `in the window` (rolling), `since the last firing` (a lifetime rule that resets), or `""`.
 */
export function totalsScopeWords(explanation: Pick<RuleExplanation, "kind" | "rule">): string {
  if (explanation.kind === "rolling") return "in the window";
  return explanation.rule.reset && explanation.rule.window === undefined ? "since the last firing" : "";
}

/** Whether an app's condition holds, in words: `holds now`, `does not hold now`, or nothing counted. */
export function verdictWords(app: Pick<AppExplanation, "events" | "holds">): string {
  if (app.events.length === 0) return "no event counted, nothing to decide";
  return app.holds ? "holds now" : "does not hold now";
}

interface AppTrace {
  readonly notifications: Notification[];
  readonly events: CountedEvent[];
}

/**
 * `pia explain`: one rule for one user, computed by the very engine `pia simulate` runs (same
 * reader, same de-duplication, same decisions), watched as it goes. The engine is given this rule
 * alone: rules are decided apart, and de-duplication does not depend on the rules. A disabled rule
 * is explained as if enabled (`pia simulate` skips it). Lines go in through `ingest` (as
 * `Engine.ingest`), then `explain(now)` closes the engine at `now`, as `pia simulate` does.
 */
export class RuleExplainer {
  readonly #rule: Rule;
  readonly #compiled: CompiledRule;
  readonly #userId: string;
  readonly #appId: string | undefined;
  readonly #engine: Engine;
  /** The user's apps, in order of first event, and what was seen of each. */
  readonly #apps = new Map<string, AppTrace>();

  constructor(rule: Rule, userId: string, options: { reader?: RecordReader; appId?: string } = {}) {
    this.#rule = rule;
    this.#compiled = compileRule(rule);
    this.#userId = userId;
    this.#appId = options.appId;
    this.#engine = new Engine([{ ...rule, enabled: true }], options.reader ?? recordReader(), {
      applied: (event, ruleIds) => this.#applied(event, ruleIds.includes(rule.id)),
    });
  }

  ingest(line: string): void {
    this.#collect(this.#engine.ingest(line));
  }

  /** An event already read (e.g. from the events table), as `Engine.apply`. */
  apply(event: PiaEvent): void {
    this.#collect(this.#engine.apply(event));
  }

  skipUnread(reason: SkipReason): void {
    this.#engine.skipUnread(reason);
  }

  explain(now: number): RuleExplanation {
    this.#collect(this.#engine.close(now));
    const compiled = this.#compiled;
    return {
      rule: this.#rule,
      kind: compiled.kind,
      words: ruleWords(this.#rule),
      condition: conditionWords(this.#rule),
      action: actionWords(this.#rule),
      userId: this.#userId,
      now,
      ...(compiled.kind === "closing" && compiled.windowEnd !== undefined
        ? { closesAt: compiled.windowEnd }
        : {}),
      apps: [...this.#apps].map(([appId, trace]) =>
        this.#appExplanation(appId, trace, this.#engine.stateOf(appId, this.#userId, this.#rule.id), now),
      ),
    };
  }

  #appExplanation(appId: string, trace: AppTrace, state: RuleState | undefined, now: number): AppExplanation {
    const events = [...trace.events].reverse().sort((a, b) => b.at - a.at);
    const common = { appId, notifications: trace.notifications, events };
    if (state === undefined) return { ...common, count: 0, sum: canonicalDecimal(ZERO), holds: false };
    if ("kind" in state) {
      const length = this.#compiled.kind === "rolling" ? this.#compiled.length : 0;
      const end = Math.max(now, state.w);
      const count = state.count;
      return {
        ...common,
        count,
        sum: canonicalDecimal(state.sum),
        window: { start: end - length, end },
        holds: conditionHolds(this.#compiled, count, state.sum),
      };
    }
    return {
      ...common,
      count: state.count,
      sum: canonicalDecimal(state.sum),
      holds: conditionHolds(this.#compiled, state.count, state.sum),
    };
  }

  #applied(event: PiaEvent, counted: boolean): void {
    if (event.userId !== this.#userId) return;
    if (this.#appId !== undefined && event.appId !== this.#appId) return;
    const trace = this.#traceOf(event.appId);
    if (counted) {
      trace.events.push({
        at: event.timestamp,
        identity: event.identity,
        metric: metricText(this.#compiled, event),
      });
    }
  }

  #traceOf(appId: string): AppTrace {
    let trace = this.#apps.get(appId);
    if (trace === undefined) {
      trace = { notifications: [], events: [] };
      this.#apps.set(appId, trace);
    }
    return trace;
  }

  #collect(notifications: readonly Notification[]): void {
    for (const notification of notifications) {
      if (notification.userId !== this.#userId) continue;
      if (this.#appId !== undefined && notification.appId !== this.#appId) continue;
      this.#traceOf(notification.appId).notifications.push(notification);
    }
  }
}
