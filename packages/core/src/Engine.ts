import type { CompiledRule } from "./compileRule.js";
import { compileRule, matchesEvent, metricText } from "./compileRule.js";
import type { Firing, RollingFiring, RuleState } from "./decideRule.js";
import { advanceClock, applyMatches, isClosingDue, isSettled } from "./decideRule.js";
import type { PiaEvent, SkipReason } from "./event.js";
import { SKIP_REASONS } from "./event.js";
import { IdentitySet } from "./IdentitySet.js";
import type { Notification } from "./notification.js";
import { makeNotification } from "./notification.js";
import { type RecordReader, recordReader } from "./recordReader.js";
import type { Rule } from "./rule.js";

/** Every record lands in exactly one of `applied`, `duplicate`, `ignored` or a skip reason. */
export interface EngineSummary {
  readonly records: number;
  readonly applied: number;
  readonly duplicate: number;
  readonly ignored: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
  readonly notifications: number;
  readonly notificationsByRule: Readonly<Record<string, number>>;
}

/** Everything kept for one (app, user): a state per rule, by the rule's position. */
interface UserCounters {
  readonly appId: string;
  readonly userId: string;
  endpointId: string | undefined;
  readonly states: (RuleState | undefined)[];
}

/**
 * Watches the engine at work without changing it (\`pia explain\`): \`applied\` sees every event
 * after de-duplication, with the ids of the rules it was applied to (matched, not yet decided or
 * settled), in input order.
 */
export interface EngineObserver {
  applied(event: PiaEvent, ruleIds: readonly string[]): void;
}

interface IndexedRule {
  readonly compiled: CompiledRule;
  readonly index: number;
}

/**
 * The in-memory engine behind `pia simulate`: records in input order, per (app, user, rule)
 * states, streaming and rolling decisions after each event, closing decisions and the expiries of
 * rolling windows at `close(now)`. Memory grows with the (user, rule) pairs and the events inside
 * each rolling window (expired ones are dropped as events come), plus a 16-byte fingerprint per
 * distinct event (about 27-53 bytes with its hash table) for exact de-duplication.
 */
export class Engine {
  readonly #rulesByEvent = new Map<string, IndexedRule[]>();
  readonly #rules: IndexedRule[] = [];
  /** app\0user -> that user's counters. */
  readonly #users = new Map<string, UserCounters>();
  /** Closing rules already decided: later events no longer change them. */
  readonly #decided = new Set<CompiledRule>();
  readonly #seen = new IdentitySet();
  readonly #skipped = Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<
    SkipReason,
    number
  >;
  readonly #byRule = new Map<string, number>();
  #records = 0;
  #applied = 0;
  #duplicate = 0;
  #ignored = 0;
  #notifications = 0;

  readonly #reader: RecordReader;
  readonly #observer: EngineObserver | undefined;

  /** `reader`: how lines are read (default: `recordReader()`, the `auto` format). */
  constructor(rules: readonly Rule[], reader: RecordReader = recordReader(), observer?: EngineObserver) {
    this.#reader = reader;
    this.#observer = observer;
    let index = 0;
    for (const rule of rules) {
      if (!rule.enabled) continue;
      const indexed = { compiled: compileRule(rule), index: index++ };
      const forEvent = this.#rulesByEvent.get(rule.event);
      if (forEvent === undefined) this.#rulesByEvent.set(rule.event, [indexed]);
      else forEvent.push(indexed);
      this.#rules.push(indexed);
    }
  }

  /**
   * Reads one NDJSON line and returns the notifications it fires. A line is one record, except a
   * Segment batch envelope, which is one record per call it holds (in list order).
   */
  ingest(line: string): Notification[] {
    const fired: Notification[] = [];
    for (const outcome of this.#reader.read(line)) {
      this.#records++;
      if (outcome.kind === "skipped") {
        this.#skipped[outcome.reason]++;
      } else if (outcome.kind === "ignored") {
        this.#ignored++;
      } else if (!this.#seen.add(outcome.event.identity)) {
        this.#duplicate++;
      } else {
        this.#applied++;
        for (const notification of this.apply(outcome.event)) fired.push(notification);
      }
    }
    return fired;
  }

  /**
   * Counts a record skipped before it could be read: a line over `MAX_RECORD_BYTES` that the
   * reader discarded without holding it in memory (`too_large`).
   */
  skipUnread(reason: SkipReason): void {
    this.#records++;
    this.#skipped[reason]++;
  }

  /** Applies a parsed, de-duplicated event to every rule on its event type. */
  apply(event: PiaEvent): Notification[] {
    const rules = this.#rulesByEvent.get(event.eventType);
    const counted: string[] | undefined = this.#observer === undefined ? undefined : [];
    let user: UserCounters | undefined;
    const fired: Notification[] = [];
    for (const { compiled, index } of rules ?? []) {
      if (this.#decided.has(compiled) || !matchesEvent(compiled, event)) continue;
      user ??= this.#userOf(event);
      const state = user.states[index];
      if (isSettled(compiled, state)) continue;
      const match = { timestamp: event.timestamp, metric: metricText(compiled, event) };
      const step = applyMatches(compiled, state, [match]);
      user.states[index] = step.state;
      counted?.push(compiled.rule.id);
      for (const firing of step.firings) fired.push(this.#notify(compiled, user, firing));
    }
    if (counted !== undefined) this.#observer?.applied(event, counted);
    return fired;
  }

  /**
   * Decides every closing rule whose window has closed at `now` (epoch ms), once: a later call,
   * or events read afterwards, do not change a decision already made. Brings every rolling state
   * to `now`: each expiry instant up to it is decided, in time order.
   */
  close(now: number): Notification[] {
    const fired: Notification[] = [];
    for (const { compiled, index } of this.#rules) {
      if (compiled.kind === "rolling") {
        for (const user of this.#users.values()) {
          const state = user.states[index];
          if (state === undefined) continue;
          const step = advanceClock(compiled, state, now);
          user.states[index] = step.state;
          for (const firing of step.firings) fired.push(this.#notify(compiled, user, firing));
        }
        continue;
      }
      if (this.#decided.has(compiled) || !isClosingDue(compiled, now)) continue;
      this.#decided.add(compiled);
      for (const user of this.#users.values()) {
        const state = user.states[index];
        if (state === undefined) continue;
        const step = advanceClock(compiled, state, now);
        user.states[index] = step.state;
        for (const firing of step.firings) fired.push(this.#notify(compiled, user, firing));
      }
    }
    return fired;
  }

  /** The state of (app, user, rule) as it stands: undefined when no event of the user counted. */
  stateOf(appId: string, userId: string, ruleId: string): RuleState | undefined {
    const indexed = this.#rules.find(({ compiled }) => compiled.rule.id === ruleId);
    if (indexed === undefined) return undefined;
    return this.#users.get(`${appId}\u0000${userId}`)?.states[indexed.index];
  }

  summary(): EngineSummary {
    return {
      records: this.#records,
      applied: this.#applied,
      duplicate: this.#duplicate,
      ignored: this.#ignored,
      skipped: { ...this.#skipped },
      notifications: this.#notifications,
      notificationsByRule: Object.fromEntries(this.#byRule),
    };
  }

  #userOf(event: PiaEvent): UserCounters {
    const key = `${event.appId}\u0000${event.userId}`;
    let user = this.#users.get(key);
    if (user === undefined) {
      user = { appId: event.appId, userId: event.userId, endpointId: undefined, states: [] };
      this.#users.set(key, user);
    }
    user.endpointId = event.endpointId ?? user.endpointId;
    return user;
  }

  #notify(compiled: CompiledRule, user: UserCounters, firing: Firing | RollingFiring): Notification {
    this.#notifications++;
    this.#byRule.set(compiled.rule.id, (this.#byRule.get(compiled.rule.id) ?? 0) + 1);
    return makeNotification(compiled.rule, user, firing.at, "seq" in firing ? firing : undefined);
  }
}
