import { type CompiledRule, compileRule, matchesEvent, metricText } from "./compileRule.js";
import { advanceClock, applyMatches, type RollingFiring, type RuleState } from "./decideRule.js";
import type { PiaEvent } from "./event.js";
import type { Rule } from "./rule.js";

export interface PreviewOptions {
  /** Epoch ms: events after it are ignored (a preview shows what is known now). */
  readonly now: number;
  /** How many qualifying users `sample` lists at most (a whole number >= 0). */
  readonly sampleSize: number;
}

/** A user as counters key them: the app and the user id. */
export interface PreviewUser {
  readonly appId: string;
  readonly userId: string;
}

export interface RulePreview {
  /**
   * Users the rule would have notified on these events. A rolling rule (window `last`): the users
   * inside its window at `now`; a rolling rule that resets (its users never stay inside), the users
   * it fired for at least once.
   */
  readonly qualifying: number;
  /** The first `sampleSize` qualifying users, by app id, then user id (code unit order). */
  readonly sample: PreviewUser[];
  /** Rolling rules only: users who entered at least once on these events, up to `now`. */
  readonly entered?: number;
  /** Users with at least one event of the rule's event type at or before `now`, matching or not. */
  readonly usersSeen: number;
  /** Distinct events (per user, by identity) that match the rule: event type, filter, window. */
  readonly eventsMatched: number;
}

interface Match {
  readonly timestamp: number;
  readonly identity: string;
  readonly metric: string | undefined;
}

/** What is kept of a user: running totals, or a rolling rule's events still inside its window. */
interface UserTally extends PreviewUser {
  /** The matches applied so far (undefined: none yet). */
  state: RuleState | undefined;
  /** The rule fired for the user (a rolling rule: the user entered) on the matches applied so far. */
  fired: boolean;
  /** The latest match applied: matches added after a `settle` must come after it. */
  last: Match | undefined;
}

/** A user's matches added since the last `settle`, not yet applied, de-duplicated by identity. */
interface Pending {
  readonly matches: Match[];
  readonly identities: Set<string>;
}

function byTimeThenIdentity(a: Match, b: Match): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  return a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0;
}

function byAppThenUser(a: PreviewUser, b: PreviewUser): number {
  if (a.appId !== b.appId) return a.appId < b.appId ? -1 : 1;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/**
 * A rule preview fed page by page (`previewRule` on events that do not all fit in memory): it keeps
 * per user the running state the core's `applyMatches` gives, not the events.
 *
 * A streaming rule must see a user's matches in time order (ties by identity), so matches wait in
 * a per-user buffer until `settle()`, which applies them sorted. The caller calls `settle()` when
 * every event still to come of each user is later than those added so far: the `byTypeDay` index
 * returns events by day, then by user, so after each day, or when the user changes within a day.
 * A match that is not later than the user's last applied one then means that promise was broken,
 * and `settle()` throws a `RangeError` rather than answer wrongly. Events are de-duplicated per user
 * by identity among those added since the last settle; the events table holds each (user, identity)
 * once, in one day, so a stored event never comes back after one.
 *
 * A rolling rule (docs/rules.md section 4.4) is decided the same way, as `pia simulate` decides it:
 * each user's matches in time order (`applyMatches`), then the passing of time up to `now`
 * (`advanceClock`); the user qualifies when inside the window at `now` (a reset rule: when it fired
 * at least once), and `entered` counts the users who entered at least once.
 *
 * Memory: one small record per user seen (totals and the last match; for a rolling rule, the
 * user's matches still inside the window at the latest instant applied, as the engine keeps them),
 * plus the matches added since the last `settle()`.
 */
export class PreviewTally {
  readonly #compiled: CompiledRule;
  readonly #options: PreviewOptions;
  readonly #users = new Map<string, UserTally>();
  /** Users with matches waiting for `settle()`, and those matches. */
  readonly #pending = new Map<UserTally, Pending>();
  #eventsMatched = 0;

  constructor(rule: Rule, options: PreviewOptions) {
    if (!Number.isSafeInteger(options.sampleSize) || options.sampleSize < 0) {
      throw new RangeError(`sampleSize must be a whole number >= 0, not ${options.sampleSize}`);
    }
    this.#compiled = compileRule(rule);
    this.#options = options;
  }

  /** Adds events of any type (others are ignored), in any order until the next `settle()`. */
  add(events: Iterable<PiaEvent>): void {
    const { rule } = this.#compiled;
    for (const event of events) {
      if (event.timestamp > this.#options.now || event.eventType !== rule.event) continue;
      const key = `${event.appId}\u0000${event.userId}`;
      let user = this.#users.get(key);
      if (user === undefined) {
        user = { appId: event.appId, userId: event.userId, state: undefined, fired: false, last: undefined };
        this.#users.set(key, user);
      }
      if (!matchesEvent(this.#compiled, event)) continue;
      let pending = this.#pending.get(user);
      if (pending === undefined) {
        pending = { matches: [], identities: new Set() };
        this.#pending.set(user, pending);
      }
      if (pending.identities.has(event.identity)) continue;
      pending.identities.add(event.identity);
      pending.matches.push({
        timestamp: event.timestamp,
        identity: event.identity,
        metric: metricText(this.#compiled, event),
      });
      this.#eventsMatched++;
    }
  }

  /** Applies the matches added so far: every match added later must be later, per user. */
  settle(): void {
    for (const [user, pending] of this.#pending) {
      const matches = pending.matches.sort(byTimeThenIdentity);
      const first = matches[0];
      if (first !== undefined && user.last !== undefined && byTimeThenIdentity(user.last, first) >= 0) {
        throw new RangeError(
          `previewing ${this.#compiled.rule.id}: an event of user ${JSON.stringify(user.userId)} at ${first.timestamp} was added after a settle() that applied one at ${user.last.timestamp}; settle only when every event still to come is later`,
        );
      }
      const applied = applyMatches(this.#compiled, user.state, matches);
      user.state = applied.state;
      user.fired ||= applied.firings.some((firing) => this.#enters(firing));
      user.last = matches.at(-1) ?? user.last;
    }
    this.#pending.clear();
  }

  /** The preview of everything added (settled first). */
  result(): RulePreview {
    this.settle();
    const { now, sampleSize } = this.#options;
    const compiled = this.#compiled;
    const qualifying: PreviewUser[] = [];
    let entered = 0;
    for (const { appId, userId, state, fired } of this.#users.values()) {
      if (state === undefined) continue;
      if (compiled.kind === "rolling") {
        // Expiries up to now: the user may leave, or (fewer than, = 0) enter, as time passes.
        const step = advanceClock(compiled, state, now);
        const everEntered = fired || step.firings.some((firing) => this.#enters(firing));
        if (everEntered) entered++;
        if (compiled.resets ? everEntered : "kind" in step.state && step.state.in)
          qualifying.push({ appId, userId });
        continue;
      }
      // A closing rule is decided as if its window had closed, however early `now` is.
      const decidedAt = Math.max(now, compiled.windowEnd ?? now);
      if (fired || advanceClock(compiled, state, decidedAt).firings.length > 0) {
        qualifying.push({ appId, userId });
      }
    }
    return {
      qualifying: qualifying.length,
      sample: qualifying.sort(byAppThenUser).slice(0, sampleSize),
      ...(compiled.kind === "rolling" ? { entered } : {}),
      usersSeen: this.#users.size,
      eventsMatched: this.#eventsMatched,
    };
  }

  /** Whether a firing is an entry: every firing but a rolling attribute rule's exit (value ""). */
  #enters(firing: { readonly at: number } | RollingFiring): boolean {
    return !("seq" in firing) || firing.value !== "";
  }
}
