import { compileRule, matchesEvent, metricText } from "./compileRule.js";
import { advanceClock, applyMatches } from "./decideRule.js";
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
  /** Users the rule would have notified on these events. */
  readonly qualifying: number;
  /** The first `sampleSize` qualifying users, by app id, then user id (code unit order). */
  readonly sample: PreviewUser[];
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

interface UserMatches extends PreviewUser {
  readonly identities: Set<string>;
  readonly matches: Match[];
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
 * How many users a rule would notify on a set of stored events, and which, as the engine decides:
 * events grouped by (app, user) and de-duplicated by identity, matched by event type, filter and
 * window (`matchesEvent`), applied exactly (`applyMatches`).
 *
 * - A streaming rule qualifies a user when it would have fired on the user's events replayed in
 *   time order (ties by identity): for `>`/`>=` on metrics >= 0 that is the condition on the
 *   totals, and a lifetime `=` counts the user who reached the target on the way.
 *   A reset rule qualifies a user it would fire for at least once.
 * - A closing rule qualifies a user with at least one matching event whose window totals meet the
 *   condition, whether or not the window has closed: it would be decided so if it closed now
 *   (`advanceClock` to the window's end).
 *
 * A disabled rule is previewed as if enabled. Events after `now` are ignored.
 */
export function previewRule(rule: Rule, events: Iterable<PiaEvent>, options: PreviewOptions): RulePreview {
  const { now, sampleSize } = options;
  if (!Number.isSafeInteger(sampleSize) || sampleSize < 0) {
    throw new RangeError(`sampleSize must be a whole number >= 0, not ${sampleSize}`);
  }
  const compiled = compileRule(rule);
  const seen = new Set<string>();
  const users = new Map<string, UserMatches>();
  let eventsMatched = 0;

  for (const event of events) {
    if (event.timestamp > now || event.eventType !== rule.event) continue;
    const key = `${event.appId}\u0000${event.userId}`;
    seen.add(key);
    if (!matchesEvent(compiled, event)) continue;
    let user = users.get(key);
    if (user === undefined) {
      user = { appId: event.appId, userId: event.userId, identities: new Set(), matches: [] };
      users.set(key, user);
    }
    if (user.identities.has(event.identity)) continue;
    user.identities.add(event.identity);
    user.matches.push({
      timestamp: event.timestamp,
      identity: event.identity,
      metric: metricText(compiled, event),
    });
    eventsMatched++;
  }

  // A closing rule is decided as if its window had closed, however early `now` is.
  const decidedAt = Math.max(now, compiled.windowEnd ?? now);
  const qualifies = (matches: Match[]): boolean => {
    const applied = applyMatches(compiled, undefined, matches.sort(byTimeThenIdentity));
    return applied.firings.length > 0 || advanceClock(compiled, applied.state, decidedAt).firings.length > 0;
  };

  const qualifying: PreviewUser[] = [];
  for (const { appId, userId, matches } of users.values()) {
    if (qualifies(matches)) qualifying.push({ appId, userId });
  }
  return {
    qualifying: qualifying.length,
    sample: qualifying.sort(byAppThenUser).slice(0, sampleSize),
    usersSeen: seen.size,
    eventsMatched,
  };
}
