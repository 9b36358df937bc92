import { explainStoredUser, MAX_EXPLAIN_EVENTS, type StageReader, storedStateWords } from "@pia/aws";
import {
  type AppExplanation,
  type RuleExplanation,
  type RuleKind,
  totalsScopeWords,
  verdictWords,
} from "@pia/core";
import { BadRequestError, ExplainUnavailableError, RuleNotFoundError } from "./errors.js";
import type { Now, RuleStore } from "./ports.js";

/** Counted events an answer lists when the request names no `limit`. */
export const DEFAULT_EXPLAIN_LIMIT = 20;
/** The most counted events an answer lists (`limit`). */
export const MAX_EXPLAIN_LIMIT = 200;
/** The most notifications an answer lists (the latest): a rolling rule may have made many. */
export const MAX_EXPLAIN_NOTIFICATIONS = 1000;
/** Longest user or app id taken, in UTF-8 bytes: both go into one key, which DynamoDB caps at 2048 bytes. */
const MAX_ID_BYTES = 1000;
const tooLong = (text: string) => Buffer.byteLength(text, "utf8") > MAX_ID_BYTES;

/** The body of `POST /rules/{id}/explain`. */
export interface ExplainRequest {
  readonly userId: string;
  readonly appId: string;
  /** Epoch ms; absent: the API's clock. */
  readonly now?: number;
  readonly limit: number;
}

/** A notification as the answer lists it (the sinks' contract, without the app, user and rule). */
export interface ExplainedNotification {
  readonly at: string;
  readonly type: "attribute" | "event";
  readonly name: string;
  readonly value?: string;
  readonly seq?: number;
}

/** What `POST /rules/{id}/explain` answers (times are ISO 8601 UTC). */
export interface ExplainAnswer {
  readonly ruleId: string;
  readonly enabled: boolean;
  readonly kind: RuleKind;
  /** The rule in the core's words, its condition and what a firing does (as `pia explain` says them). */
  readonly words: string;
  readonly condition: string;
  readonly action: string;
  readonly appId: string;
  readonly userId: string;
  readonly now: string;
  /** Closing rules: when the window closes and the rule is decided; `closed` once now is past it. */
  readonly closesAt?: string;
  readonly closed?: boolean;
  /** The totals of the replay at now, and what they are over (`in the window`, `since the last firing`, or ""). */
  readonly totals: { readonly count: number; readonly sum: string; readonly scope: string };
  /** Rolling rules: the window the totals are over, start excluded. */
  readonly window?: { readonly start: string; readonly end: string };
  readonly holds: boolean;
  /** `holds now`, `does not hold now`, or `no event counted, nothing to decide`. */
  readonly verdict: string;
  /** Every notification of the replay (at most the latest `MAX_EXPLAIN_NOTIFICATIONS`), oldest first. */
  readonly notifications: readonly ExplainedNotification[];
  readonly notificationCount: number;
  /** The events that counted, newest first, at most `limit`; `counted` says how many there are. */
  readonly events: readonly {
    readonly at: string;
    readonly identity: string;
    readonly metric: string | null;
  }[];
  readonly counted: number;
  /** The metric a sum rule adds up, to name the events' `metric`. */
  readonly metricName?: string;
  /** What was read from the events table: events replayed, items that were not events, whether `maxEvents` cut it. */
  readonly read: {
    readonly events: number;
    readonly unreadable: number;
    readonly truncated: boolean;
    readonly maxEvents: number;
  };
  /** The pipeline's own stored state of the rule for the user (the counters item's known fields), or null. */
  readonly stored: {
    readonly count?: number;
    readonly sum?: string;
    readonly fired?: boolean;
    readonly in?: boolean;
    readonly notified?: number;
    readonly w?: string;
    readonly dueAt?: string;
    readonly pending?: number;
    /** The same in words (`count 3, sum 12.5, fired`), as `pia explain --stage` prints it. */
    readonly words: string;
  } | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Reads the body `{ userId, appId, now?, limit? }`; a `BadRequestError` names what is wrong, never echoing ids. */
export function readExplainRequest(body: unknown): ExplainRequest {
  const shape =
    'send { "userId": "…", "appId": "…", "now"?: "2030-01-02T03:04:05Z", "limit"?: 20 } (appId "" for events without an app id)';
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError(shape);
  const { userId, appId, now, limit, ...rest } = body as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) throw new BadRequestError(`${shape}; unknown keys: ${unknownKeys.join(", ")}`);
  if (typeof userId !== "string" || userId === "" || tooLong(userId)) {
    throw new BadRequestError(`userId: a non-empty string of at most ${MAX_ID_BYTES} bytes; ${shape}`);
  }
  if (typeof appId !== "string" || tooLong(appId)) {
    throw new BadRequestError(`appId: a string of at most ${MAX_ID_BYTES} bytes; ${shape}`);
  }
  let at: number | undefined;
  if (now !== undefined) {
    at = typeof now === "string" && ISO.test(now) ? Date.parse(now) : Number.NaN;
    if (Number.isNaN(at)) {
      throw new BadRequestError(
        "now: an ISO 8601 date or time with its offset, e.g. 2030-01-02 or 2030-01-02T03:04:05Z",
      );
    }
  }
  if (
    limit !== undefined &&
    (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > MAX_EXPLAIN_LIMIT)
  ) {
    throw new BadRequestError(`limit: a whole number from 1 to ${MAX_EXPLAIN_LIMIT}`);
  }
  return {
    userId,
    appId,
    ...(at === undefined ? {} : { now: at }),
    limit: limit ?? DEFAULT_EXPLAIN_LIMIT,
  };
}

export interface ExplainUserDeps {
  readonly store: RuleStore;
  /** The stage's events and counters tables; absent: the route answers 409. */
  readonly reader: StageReader | undefined;
  readonly now: Now;
  /** Items read at most from the events table (default `MAX_EXPLAIN_EVENTS`). */
  readonly maxEvents?: number;
}

function appOf(explanation: RuleExplanation): AppExplanation {
  return (
    explanation.apps[0] ?? {
      appId: "",
      count: 0,
      sum: "0",
      holds: false,
      notifications: [],
      events: [],
    }
  );
}

/**
 * "Why is this user in, or not?": the stored rule `ruleId` (404 when there is none) explained for
 * one user of one app, as `pia explain --stage` explains it (`explainStoredUser`: the user's stored
 * events replayed by the engine, the pipeline's counters item beside it). A disabled rule is
 * explained as if enabled. The answer holds user data: it goes to the caller, never to the logs.
 */
export function makeExplainUser(
  deps: ExplainUserDeps,
): (ruleId: string, body: unknown) => Promise<ExplainAnswer> {
  return async (ruleId, body) => {
    const request = readExplainRequest(body);
    const reader = deps.reader;
    if (reader === undefined) throw new ExplainUnavailableError();
    const stored = await deps.store.get(ruleId);
    if (stored === undefined) throw new RuleNotFoundError(ruleId);
    const now = request.now ?? deps.now();
    const result = await explainStoredUser(reader, stored.rule, {
      userId: request.userId,
      appId: request.appId,
      now,
      maxEvents: deps.maxEvents ?? MAX_EXPLAIN_EVENTS,
    });
    const { explanation } = result;
    const app = appOf(explanation);
    const state = result.stored;
    const { w, dueAt, ...facts } = state ?? {};
    return {
      ruleId: stored.rule.id,
      enabled: stored.rule.enabled,
      kind: explanation.kind,
      words: explanation.words,
      condition: explanation.condition,
      action: explanation.action,
      appId: request.appId,
      userId: request.userId,
      now: iso(now),
      ...(explanation.closesAt === undefined
        ? {}
        : { closesAt: iso(explanation.closesAt), closed: now >= explanation.closesAt }),
      totals: { count: app.count, sum: app.sum, scope: totalsScopeWords(explanation) },
      ...(app.window === undefined
        ? {}
        : { window: { start: iso(app.window.start), end: iso(app.window.end) } }),
      holds: app.holds,
      verdict: verdictWords(app),
      notifications: app.notifications.slice(-MAX_EXPLAIN_NOTIFICATIONS).map((notification) => ({
        at: notification.at,
        type: notification.type,
        name: notification.name,
        ...(notification.value === undefined ? {} : { value: notification.value }),
        ...(notification.seq === undefined ? {} : { seq: notification.seq }),
      })),
      notificationCount: app.notifications.length,
      events: app.events.slice(0, request.limit).map((event) => ({
        at: iso(event.at),
        identity: event.identity,
        metric: event.metric ?? null,
      })),
      counted: app.events.length,
      ...(stored.rule.sum?.metric === undefined ? {} : { metricName: stored.rule.sum.metric }),
      read: {
        events: result.eventsRead,
        unreadable: result.unreadable,
        truncated: result.truncated,
        maxEvents: result.maxEvents,
      },
      stored:
        state === undefined
          ? null
          : {
              ...facts,
              ...(w === undefined ? {} : { w: iso(w) }),
              ...(dueAt === undefined ? {} : { dueAt: iso(dueAt) }),
              words: storedStateWords(state),
            },
    };
  };
}
