import { counterKey, type Rule, RuleExplainer, type RuleExplanation } from "@pia/core";
import type { StageReader } from "./stageTables.js";

/** Most events an explanation reads for one user from a stage: the events table is customer data. */
export const MAX_EXPLAIN_EVENTS = 100_000;

/**
 * The pipeline's stored state of one rule for one user: the counters item's known fields, as
 * stored, and nothing else (not its keys, not fields this reader does not know).
 */
export interface StoredCounterState {
  readonly count?: number;
  /** Decimal text. */
  readonly sum?: string;
  /** Reset and lifetime rules: whether it has fired. */
  readonly fired?: boolean;
  /** Rolling rules: whether the user is inside the window. */
  readonly in?: boolean;
  /** Notifications the pipeline made of it for the user. */
  readonly notified?: number;
  /** Rolling rules: evaluated up to this instant (epoch ms). */
  readonly w?: number;
  /** Rolling rules: the next expiry (epoch ms). */
  readonly dueAt?: number;
  /** Notifications not yet confirmed sent. */
  readonly pending?: number;
  /** Backfill (docs/rules.md section 9): live matches held until the user's history is merged. */
  readonly held?: number;
}

/** What an explanation of one rule for one user of a stage is made of. */
export interface StoredUserExplanation {
  /** The replay of the user's stored events through the engine `pia simulate` runs. */
  readonly explanation: RuleExplanation;
  /** Events read from the events table (and replayed). */
  readonly eventsRead: number;
  /** Items read that are not events, left out of the replay. */
  readonly unreadable: number;
  /** True when `maxEvents` stopped the read: events are missing from the replay. */
  readonly truncated: boolean;
  readonly maxEvents: number;
  /** The counters item of the rule for the user; undefined when there is none. */
  readonly stored: StoredCounterState | undefined;
}

export interface ExplainStoredUserOptions {
  readonly userId: string;
  readonly appId: string;
  /** The explanation's clock (epoch ms): closing and rolling rules are decided at it. */
  readonly now: number;
  /** Items read at most from the events table (default `MAX_EXPLAIN_EVENTS`). */
  readonly maxEvents?: number;
}

/** The counters item's known fields, typed; anything else (pk, sk, raw fields) is left out. */
export function storedCounterState(item: Record<string, unknown>): StoredCounterState {
  const { count, sum, fired, notified, w, dueAt, pending, held } = item;
  const inside = item.in;
  return {
    ...(typeof count === "number" ? { count } : {}),
    ...(typeof sum === "string" ? { sum } : {}),
    ...(typeof fired === "boolean" ? { fired } : {}),
    ...(typeof inside === "boolean" ? { in: inside } : {}),
    ...(typeof notified === "number" ? { notified } : {}),
    ...(typeof w === "number" ? { w } : {}),
    ...(typeof dueAt === "number" ? { dueAt } : {}),
    ...(Array.isArray(pending) ? { pending: pending.length } : {}),
    ...(Array.isArray(held) ? { held: held.length } : {}),
  };
}

/**
 * The stored state in words (`count 3, sum 12.5, fired`), the one wording of `pia explain --stage`
 * and the editor's explain panel (which gets it from the rules API, having no copy of its own).
 */
export function storedStateWords(stored: StoredCounterState): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const facts: string[] = [];
  if (stored.held !== undefined) {
    // Its totals are empty until then: saying them would mislead.
    return `${stored.held} live match${stored.held === 1 ? "" : "es"} held until the backfill merges this user's history`;
  }
  if (stored.count !== undefined) facts.push(`count ${stored.count}`);
  if (stored.sum !== undefined) facts.push(`sum ${stored.sum}`);
  if (stored.fired !== undefined) facts.push(stored.fired ? "fired" : "not fired");
  if (stored.in !== undefined) facts.push(stored.in ? "inside" : "outside");
  if (stored.notified !== undefined) facts.push(`notifications ${stored.notified}`);
  if (stored.w !== undefined) facts.push(`evaluated up to ${iso(stored.w)}`);
  if (stored.dueAt !== undefined) facts.push(`next expiry ${iso(stored.dueAt)}`);
  if (stored.pending !== undefined && stored.pending > 0) {
    facts.push(`${stored.pending} notification${stored.pending === 1 ? "" : "s"} not yet confirmed sent`);
  }
  return facts.join(", ") || "(no known fields)";
}

/**
 * One rule for one user of a deployed stage, as `pia explain --stage` and the rules API's
 * `POST /rules/{id}/explain` give it: the user's stored events (a query on the user's partition,
 * at most `maxEvents` items) replayed through the engine in time order (then identity: the table
 * keeps no arrival order), and beside it the pipeline's own stored state of the rule for the user,
 * so that a difference shows (a lifetime rule counts in the pipeline only from its push; the
 * replay counts every stored event).
 */
export async function explainStoredUser(
  reader: StageReader,
  rule: Rule,
  options: ExplainStoredUserOptions,
): Promise<StoredUserExplanation> {
  const maxEvents = options.maxEvents ?? MAX_EXPLAIN_EVENTS;
  const read = await reader.userEvents(options.appId, options.userId, maxEvents);
  const events = [...read.events].sort(
    (a, b) => a.timestamp - b.timestamp || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0),
  );
  const explainer = new RuleExplainer(rule, options.userId, { appId: options.appId });
  for (const event of events) explainer.apply(event);
  const item = await reader.storedCounter(options.appId, options.userId, counterKey(rule));
  return {
    explanation: explainer.explain(options.now),
    eventsRead: read.events.length,
    unreadable: read.unreadable,
    truncated: read.truncated,
    maxEvents,
    stored: item === undefined ? undefined : storedCounterState(item),
  };
}
