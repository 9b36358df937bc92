import {
  type BackfillJob,
  deliverPending,
  eventDay,
  HistoryTooLargeError,
  isHeld,
  isRollingItem,
  mergeBackfill,
  type PendingDelivery,
  pendingMessages,
  type ReadHistory,
  typeDayKey,
} from "@pia/aws";
import { type CounterRule, compileRule, counterKey, DAY_MS, matchesEvent, type Rule } from "@pia/core";
import type {
  BackfillJobStore,
  ClearPending,
  Clock,
  HeldCountersOfRule,
  LoadRules,
  Log,
  ReadCounter,
  SendMessages,
  UsersOfDay,
  WriteCounter,
} from "./ports.js";

/*
 * The backfill job (docs/rules.md section 9; the model is in packages/aws/src/backfill.ts). Each
 * scheduled run moves every unfinished job on as far as its time budget allows:
 *
 *   requested   -> settling     once the rule is stored: boundary B = now + live delay (every
 *                               aggregate container has loaded the rule by then), settledAt =
 *                               B + settle (every event stamped before B is stored by then)
 *   settling    -> discovering  once now >= settledAt + sweep margin (index propagation): the days
 *                               to read are fixed, in the cursor
 *   discovering -> sweeping     after every page of the events table's `byTypeDay` index for
 *                               those days: each user found there has their history merged
 *   sweeping    -> done         after every counter of the counting that still holds live matches
 *                               (found by the counters table's `byRule` index) is merged
 *
 * Every save is conditional on the job's `rev`, and the cursor is saved after each page: a run that
 * stops (budget, crash) is resumed by the next at the saved page, and a run that finds the job
 * moved by another stops working on it. Redone work is idempotent: a user's history is merged at
 * most once, by a conditional write of the counter (absent, or held at its `rev`), and a counter
 * without `held` is already merged (by the job or by aggregate), so it is skipped.
 *
 * Limits: the index is read a page at a time (`pageSize` items, a query, never a scan); a user's
 * history is read whole, up to `HISTORY_LIMIT` events of the rule's type (readHistory throws past
 * it: the user is skipped, counted in `usersTooLarge` and logged as an error, and the job goes on).
 * Only the days in [now - event retention, day of settledAt + 1] are read (older events are gone
 * by TTL);
 * a user whose history events are not in the index (stored without PREVIEW_INDEX, or with an
 * event time outside those days) and who holds no live match is merged by aggregate on their next
 * matching event instead.
 */

export interface BackfillSettings {
  /** From setting the boundary to the boundary: longer than aggregate's rule cache. */
  readonly liveDelayMs: number;
  /** From the boundary to `settledAt`: longer than ingest's longest write (its Lambda timeout). */
  readonly settleMs: number;
  /** After `settledAt`, before reading the index (its eventual consistency). */
  readonly sweepMarginMs: number;
  /** The events table's retention (DEFAULTS.ingest.eventRetentionDays): older days are empty. */
  readonly eventRetentionDays: number;
  /** A job whose counting has no current rule this long (since its last save) is removed. */
  readonly orphanMs?: number;
  /**
   * Pages (of the index or of held counters) a run reads at most, over all jobs (default: no limit
   * but the deadline). Tests interleave live batches with a backfill's runs through it.
   */
  readonly maxPagesPerRun?: number;
}

export interface RunBackfillsDeps {
  readonly loadRules: LoadRules;
  readonly jobs: BackfillJobStore;
  readonly usersOfDay: UsersOfDay;
  readonly heldCounters: HeldCountersOfRule;
  readonly readCounter: ReadCounter;
  readonly writeCounter: WriteCounter;
  readonly readHistory: ReadHistory;
  readonly sendMessages: SendMessages;
  readonly clearPending: ClearPending;
  /** The wall clock: boundaries compare with ingest's arrival stamps, which are wall-clock times. */
  readonly clock: Clock;
  readonly settings: BackfillSettings;
  readonly log: Log;
  readonly maxConflictRetries?: number;
}

export interface BackfillCounts {
  /** Jobs saved at least once by this run (a state change or a page further). */
  readonly jobsAdvanced: number;
  /** Jobs removed: their counting lost its rule before they finished. */
  readonly jobsRemoved: number;
  /** Users whose history this run merged. */
  readonly usersMerged: number;
  /**
   * Users left unmerged because their history has more than `HISTORY_LIMIT` events of the rule's
   * type (logged as errors; their counters count live events only once aggregate merges them,
   * which hits the same limit).
   */
  readonly usersTooLarge: number;
  /** History items read (what the reads cost). */
  readonly eventsRead: number;
  /** Notifications the merges decided and this run sent. */
  readonly notifications: number;
}

/** Where a discovering job is: the first day to read, the day index, the index query's next key. */
interface DiscoverCursor {
  readonly from: string;
  readonly day: number;
  readonly key?: Record<string, unknown>;
}

/** Where a sweeping job is: the `byRule` query's next key. */
interface SweepCursor {
  readonly key?: Record<string, unknown>;
}

/** The first day (YYYY-MM-DD) and the number of UTC days of event time a backfill reads. */
export interface DaysToRead {
  readonly from: string;
  readonly count: number;
}

/**
 * The UTC days of event time whose users a backfill discovers: a lifetime rule's from the oldest
 * day the events table still keeps to the day after `settledAt`'s (an event time a little ahead
 * of the clock that stored it); a date-window rule's window clipped to that range.
 */
export function daysToRead(
  compiled: CounterRule,
  settledAt: number,
  now: number,
  eventRetentionDays: number,
): DaysToRead {
  let first = startOfDay(now - eventRetentionDays * DAY_MS);
  let last = startOfDay(settledAt) + DAY_MS;
  if (compiled.windowStart !== undefined) first = Math.max(first, compiled.windowStart);
  if (compiled.windowEnd !== undefined) last = Math.min(last, compiled.windowEnd - DAY_MS);
  return { from: eventDay(first), count: last < first ? 0 : (last - first) / DAY_MS + 1 };
}

function startOfDay(at: number): number {
  return Math.floor(at / DAY_MS) * DAY_MS;
}

/** The `index`-th day after `from` (YYYY-MM-DD). */
export function dayAt(from: string, index: number): string {
  return eventDay(Date.parse(`${from}T00:00:00.000Z`) + index * DAY_MS);
}

function parseCursor<T>(job: BackfillJob, fallback: T): T {
  if (job.cursor === undefined) return fallback;
  try {
    return JSON.parse(job.cursor) as T;
  } catch {
    throw new Error(`backfill of rule ${job.ruleId}: its cursor is not JSON; remove the job and push again`);
  }
}

/** The job without its cursor (a stored item holds no undefined attribute). */
function withoutCursor(job: BackfillJob): BackfillJob {
  const { cursor: _cursor, ...rest } = job;
  return rest;
}

/** Thrown inside a page when the run's time is up: the page is redone by the next run. */
class OutOfTime extends Error {}

/** What merging one user did. */
interface MergeOutcome {
  readonly merged: boolean;
  readonly read: number;
  readonly delivery?: PendingDelivery;
}

/**
 * Moves every unfinished backfill job on, until `deadline` (epoch ms, wall clock). Jobs are read
 * afresh each run, and so are the rules: a job waits for its rule, and a job whose counting has
 * had no rule for `orphanMs` (default a day: a push cut short between the job and its rule, or a
 * rule changed before its backfill started) is removed.
 */
export function makeRunBackfills(deps: RunBackfillsDeps): (deadline: number) => Promise<BackfillCounts> {
  const maxRetries = deps.maxConflictRetries ?? 5;
  const orphanMs = deps.settings.orphanMs ?? DAY_MS;

  return async (deadline) => {
    let jobsAdvanced = 0;
    let jobsRemoved = 0;
    let usersMerged = 0;
    let eventsRead = 0;
    let notifications = 0;
    let usersTooLarge = 0;
    let pages = 0;
    const maxPages = deps.settings.maxPagesPerRun ?? Number.POSITIVE_INFINITY;
    const outOfTime = () => deps.clock() >= deadline || pages >= maxPages;

    /**
     * Merges one user's history into their counter of the job's counting, unless it is merged
     * already. `owner` names the user; the counter is read afresh (consistent) on every attempt.
     */
    const mergeUser = async (
      job: BackfillJob & { boundary: number },
      compiled: CounterRule,
      owner: { readonly pk: string; readonly appId: string; readonly userId: string },
    ): Promise<MergeOutcome> => {
      const key = { pk: owner.pk, sk: job.counterKey };
      let read = 0;
      for (let attempt = 0; ; attempt++) {
        const stored = await deps.readCounter(key);
        if (isRollingItem(stored)) {
          throw new Error(`backfill of rule ${job.ruleId}: the counter at its key is a rolling state`);
        }
        if (stored !== undefined && !isHeld(stored)) return { merged: false, read };
        let history: Awaited<ReturnType<ReadHistory>>;
        try {
          history = await deps.readHistory(owner.pk, compiled.rule.event, {
            boundary: job.boundary,
            settledAt: job.settledAt,
            mode: job.mode,
          });
        } catch (error: unknown) {
          if (!(error instanceof HistoryTooLargeError)) throw error;
          // Left unmerged (counted, logged without the user): one such user must not stop the job.
          usersTooLarge++;
          deps.log.error("backfill skipped a user whose history is over the limit", {
            ruleId: job.ruleId,
            limit: error.limit,
          });
          return { merged: false, read };
        }
        read += history.read;
        const next = mergeBackfill({
          compiled,
          owner: { ...key, appId: stored?.appId ?? owner.appId, userId: stored?.userId ?? owner.userId },
          mode: job.mode,
          history: history.events.filter((event) => matchesEvent(compiled, event)),
          live: stored?.held ?? [],
          item: stored,
        });
        // No matching history and nothing held: no counter (aggregate merges on a later match).
        if (next === undefined) return { merged: false, read };
        if (await deps.writeCounter(next, stored?.rev)) {
          const messages = pendingMessages(next.pending);
          return {
            merged: true,
            read,
            ...(messages.length === 0 ? {} : { delivery: { key, rev: next.rev, messages } }),
          };
        }
        if (attempt >= maxRetries) {
          throw new Error(
            `backfill of rule ${job.ruleId}: a counter kept changing during its merge; the next run retries`,
          );
        }
      }
    };

    /** Merges the users of one page, then sends what the merges decided; stops at the deadline. */
    const mergePage = async (
      job: BackfillJob & { boundary: number },
      compiled: CounterRule,
      owners: readonly { readonly pk: string; readonly appId: string; readonly userId: string }[],
    ): Promise<PageTally> => {
      const tally = { merged: 0, read: 0, sent: 0 };
      const deliveries: PendingDelivery[] = [];
      const seen = new Set<string>();
      try {
        for (const owner of owners) {
          // A user has an item per event of the day: merged (or found merged) once per page.
          if (seen.has(owner.pk)) continue;
          seen.add(owner.pk);
          if (outOfTime()) throw new OutOfTime();
          const outcome = await mergeUser(job, compiled, owner);
          tally.read += outcome.read;
          if (outcome.merged) tally.merged++;
          if (outcome.delivery !== undefined) deliveries.push(outcome.delivery);
        }
      } finally {
        // Sent and counted even when the page stops part-way: those merges are stored.
        tally.sent = await deliverPending(deliveries, deps.sendMessages, deps.clearPending);
        usersMerged += tally.merged;
        eventsRead += tally.read;
        notifications += tally.sent;
      }
      return tally;
    };

    /** The job one step further, or undefined when it has nothing to do now. */
    const step = async (job: BackfillJob, compiled: CounterRule): Promise<BackfillJob | undefined> => {
      const now = deps.clock();
      const { settings } = deps;
      const base = { ...job, updatedAt: now, rev: job.rev + 1 };
      switch (job.state) {
        case "done":
          return undefined;
        case "requested": {
          // The rule is stored (the caller found it): every aggregate container knows it by B.
          const boundary = now + settings.liveDelayMs;
          return { ...base, state: "settling", boundary, settledAt: boundary + settings.settleMs };
        }
        case "settling": {
          const { settledAt } = job;
          if (settledAt === undefined || job.boundary === undefined) {
            throw new Error(
              `backfill of rule ${job.ruleId}: settling without a boundary; remove the job and push again`,
            );
          }
          if (now < settledAt + settings.sweepMarginMs) return undefined;
          const days = daysToRead(compiled, settledAt, now, settings.eventRetentionDays);
          const cursor: DiscoverCursor = { from: days.from, day: 0 };
          return {
            ...base,
            state: "discovering",
            cursor: JSON.stringify(cursor),
            progress: { ...job.progress, days: 0, daysTotal: days.count },
          };
        }
        case "discovering": {
          const started = ready(job);
          const cursor = parseCursor<DiscoverCursor>(job, {
            from: eventDay(now),
            day: job.progress.daysTotal,
          });
          if (cursor.day >= job.progress.daysTotal) {
            return { ...withoutCursor(base), state: "sweeping" };
          }
          const typeDay = typeDayKey(compiled.rule.event, dayAt(cursor.from, cursor.day));
          const page = await deps.usersOfDay(typeDay, cursor.key);
          const done = await mergePage(started, compiled, page.items);
          pages++;
          const next: DiscoverCursor =
            page.next === undefined
              ? { from: cursor.from, day: cursor.day + 1 }
              : { from: cursor.from, day: cursor.day, key: page.next };
          return {
            ...base,
            cursor: JSON.stringify(next),
            progress: progressAfter(job, done, next.day),
          };
        }
        case "sweeping": {
          const started = ready(job);
          const cursor = parseCursor<SweepCursor>(job, {});
          const page = await deps.heldCounters(job.counterKey, cursor.key);
          const done = await mergePage(
            started,
            compiled,
            page.items.map((item) => ({ pk: item.pk, appId: item.appId, userId: item.userId })),
          );
          pages++;
          const progress = progressAfter(job, done, job.progress.days);
          if (page.next !== undefined) {
            return { ...base, cursor: JSON.stringify({ key: page.next } satisfies SweepCursor), progress };
          }
          return { ...withoutCursor(base), state: "done", finishedAt: now, progress };
        }
      }
    };

    // Most runs have nothing to backfill: one query of the jobs, and the rules only when needed.
    const unfinished = (await deps.jobs.list()).filter((job) => job.state !== "done");
    const rules = new Map<string, Rule>();
    if (unfinished.length > 0) {
      for (const rule of await deps.loadRules()) rules.set(counterKey(rule), rule);
    }

    for (const job of unfinished) {
      if (outOfTime()) break;
      const rule = rules.get(job.counterKey);
      if (rule === undefined) {
        if (deps.clock() - job.updatedAt > orphanMs) {
          await deps.jobs.remove(job.counterKey);
          jobsRemoved++;
          deps.log.warn("backfill removed: its counting has had no rule for too long", {
            ruleId: job.ruleId,
          });
        }
        continue;
      }
      const compiled = compileRule(rule);
      if (compiled.kind === "rolling") {
        // Never requested by push (rolling windows are not backfilled): left alone, and said so.
        deps.log.warn("backfill of a rolling rule left alone: rolling windows are not backfilled", {
          ruleId: job.ruleId,
        });
        continue;
      }
      let current = job;
      let advanced = false;
      try {
        while (!outOfTime()) {
          const next = await step(current, compiled);
          if (next === undefined) break;
          if (!(await deps.jobs.save(next))) {
            deps.log.info("backfill moved on by another run; left to it", { ruleId: job.ruleId });
            break;
          }
          advanced = true;
          if (next.state !== current.state) {
            deps.log.info("backfill advanced", { ruleId: job.ruleId, state: next.state });
          }
          current = next;
        }
      } catch (error: unknown) {
        if (!(error instanceof OutOfTime)) throw error;
      }
      if (advanced) jobsAdvanced++;
    }
    return { jobsAdvanced, jobsRemoved, usersMerged, usersTooLarge, eventsRead, notifications };
  };
}

/** A job past `settling` has its boundary; one without is corrupt, and said so. */
function ready(job: BackfillJob): BackfillJob & { boundary: number } {
  if (job.boundary === undefined || job.settledAt === undefined) {
    throw new Error(
      `backfill of rule ${job.ruleId}: state ${job.state} without a boundary; remove the job and push again`,
    );
  }
  return job as BackfillJob & { boundary: number };
}

/** What one page of users did. */
interface PageTally {
  merged: number;
  read: number;
  sent: number;
}

function progressAfter(job: BackfillJob, page: PageTally, days: number): BackfillJob["progress"] {
  return {
    ...job.progress,
    days,
    merged: job.progress.merged + page.merged,
    eventsRead: job.progress.eventsRead + page.read,
    notifications: job.progress.notifications + page.sent,
  };
}
