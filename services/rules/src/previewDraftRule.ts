import { eventDay } from "@pia/aws";
import {
  DAY_MS,
  isRollingWindow,
  type PiaEvent,
  PreviewTally,
  type PreviewUser,
  parseStrictDate,
  type Rule,
  rollingLengthMs,
} from "@pia/core";
import { MAX_PREVIEW_DAYS } from "./config.js";
import { PreviewUnavailableError } from "./errors.js";
import type { Now, ReadEventsByTypeDay } from "./ports.js";
import { validateRule } from "./validateRule.js";

/** Qualifying users a preview lists at most. */
export const PREVIEW_SAMPLE_SIZE = 20;

/**
 * Bytes a preview reads at most, counted as the UTF-8 length of each event's JSON as read (a bit
 * less than its item's size). About 200,000 events of a few hundred bytes: the reading, not the
 * memory, is what it bounds (events are tallied per user, not kept), so that a preview answers
 * within the API's 29 seconds and costs a few thousand read units at most.
 */
export const PREVIEW_MAX_BYTES = 64 * 1024 * 1024;

/** Why a preview did not read every event of the days asked for. */
export type PartialReason = "maxBytes" | "maxEvents" | "maxDays";

/** Said when a preview is over part of the events only: the result may differ on all of them. */
export interface PreviewPartial {
  readonly reason: PartialReason;
  readonly eventsRead: number;
  /** `partial: N events read (…)`, for people. */
  readonly message: string;
}

/** What `POST /rules/preview` answers. */
export interface RulePreviewAnswer {
  /**
   * Users the rule would have notified on the events read; a rolling rule: the users inside its
   * window now (one that resets: the users it fired for at least once).
   */
  readonly qualifying: number;
  /** Rolling rules only: users who entered at least once on the events read, up to now. */
  readonly entered?: number;
  /** The first qualifying users by app id, then user id (at most `PREVIEW_SAMPLE_SIZE`). */
  readonly sample: PreviewUser[];
  /** Users with at least one event of the rule's event type among the events read. */
  readonly usersSeen: number;
  readonly eventsRead: number;
  /** The UTC days read, inclusive (`YYYY-MM-DD`); `to` is before `from` when the window starts after today. */
  readonly from: string;
  readonly to: string;
  /** The preview did not read every event of the days asked for: it stopped at the byte or event limit, or a window longer than 400 days was cut to its last 400 days. */
  readonly truncated: boolean;
  /** Present exactly when `truncated`: why, and how many events the answer is over. */
  readonly partial?: PreviewPartial;
}

export interface PreviewDraftRuleDeps {
  /** Absent when the stage has no events table to read (no `EVENTS_TABLE`). */
  readonly readEventsByTypeDay: ReadEventsByTypeDay | undefined;
  readonly now: Now;
  /** Days a rule without a window is previewed on, up to today. */
  readonly days: number;
  /** Events read at most. */
  readonly maxEvents: number;
  /** Bytes read at most (the events' JSON size), `PREVIEW_MAX_BYTES` on the stage. */
  readonly maxBytes: number;
}

interface DayRange {
  readonly from: string;
  readonly to: string;
  /** Epoch ms of 00:00 UTC of each day to read, oldest first. */
  readonly days: readonly number[];
  readonly cut: boolean;
}

function dayStart(day: string): number {
  const ms = parseStrictDate(day);
  if (ms === undefined) throw new RangeError(`not a YYYY-MM-DD date: ${day}`);
  return ms;
}

/**
 * The days a rule is previewed on: its window up to today, at most the last `MAX_PREVIEW_DAYS` of
 * it; without a window, the last `days` days up to today (UTC, today included). A rolling window
 * (`last`): the last `days` days, or, when longer, every day its window at now touches, so that
 * whoever is inside now is seen whole (at most 401 days: 400d from the middle of a day), and the
 * days before it show who entered and left, or (fewer than, = 0) is inside for having left.
 */
function daysToRead(rule: Rule, now: number, days: number): DayRange {
  const today = now - (now % DAY_MS);
  const window = rule.window;
  if (isRollingWindow(window)) {
    const length = rollingLengthMs(window.last);
    if (length === undefined)
      throw new RangeError(`rule ${rule.id}: not a rolling window length: ${window.last}`);
    // The window at now is (now - L, now]: its first millisecond's day.
    const windowStart = now - length + 1;
    const first = Math.min(today - (days - 1) * DAY_MS, windowStart - (windowStart % DAY_MS));
    return { ...dayRange(first, today), cut: false };
  }
  const last = window === undefined ? today : Math.min(dayStart(window.to), today);
  const wanted = window === undefined ? today - (days - 1) * DAY_MS : dayStart(window.from);
  const first = Math.max(wanted, last - (MAX_PREVIEW_DAYS - 1) * DAY_MS);
  return { ...dayRange(first, last), cut: first > wanted };
}

/** The UTC days `first` to `last` (00:00 of each), inclusive. */
function dayRange(first: number, last: number): Omit<DayRange, "cut"> {
  const days: number[] = [];
  for (let day = first; day <= last; day += DAY_MS) days.push(day);
  return { from: eventDay(first), to: eventDay(last), days };
}

function partialOf(reason: PartialReason, eventsRead: number, limit: number): PreviewPartial {
  const why = {
    maxBytes: `the preview reads at most ${limit} bytes`,
    maxEvents: `the preview reads at most ${limit} events`,
    maxDays: `the preview reads at most the window's last ${limit} days`,
  }[reason];
  return { reason, eventsRead, message: `partial: ${eventsRead} events read (${why})` };
}

/** The identity of an event's user, to see where the index moves on to the next user. */
function userOf(event: PiaEvent): string {
  return `${event.appId}\u0000${event.userId}`;
}

/**
 * Previews a draft rule (validated as `POST /rules/validate` validates it, `InvalidRuleError`
 * otherwise) on the stored events of its event type, read by query from the `byTypeDay` index day
 * by day and tallied per user as they come (`PreviewTally`), never all held at once. It stops
 * before the event that would take it over `maxBytes` or `maxEvents`, and says so (`partial`).
 * Disabled drafts are previewed as if enabled. `PreviewUnavailableError` when the stage has no
 * index to read.
 */
export function makePreviewDraftRule(
  deps: PreviewDraftRuleDeps,
): (draft: unknown) => Promise<RulePreviewAnswer> {
  return async (draft) => {
    const read = deps.readEventsByTypeDay;
    if (read === undefined) throw new PreviewUnavailableError();
    const { rule } = validateRule(draft);
    const now = deps.now();
    const range = daysToRead(rule, now, deps.days);
    const tally = new PreviewTally(rule, { now, sampleSize: PREVIEW_SAMPLE_SIZE });
    let eventsRead = 0;
    let bytesRead = 0;
    let partial: PreviewPartial | undefined;
    reading: for (const day of range.days) {
      // The index returns a day's events by user, each user's in no particular order: a user's
      // events are applied, in time order, once the index has moved on to the next user or day.
      let user: string | undefined;
      for await (const event of read(rule.event, eventDay(day))) {
        const bytes = Buffer.byteLength(JSON.stringify(event), "utf8");
        if (eventsRead >= deps.maxEvents || bytesRead + bytes > deps.maxBytes) {
          partial =
            eventsRead >= deps.maxEvents
              ? partialOf("maxEvents", eventsRead, deps.maxEvents)
              : partialOf("maxBytes", eventsRead, deps.maxBytes);
          break reading;
        }
        if (userOf(event) !== user) {
          tally.settle();
          user = userOf(event);
        }
        tally.add([event]);
        eventsRead++;
        bytesRead += bytes;
      }
      tally.settle();
    }
    if (partial === undefined && range.cut) partial = partialOf("maxDays", eventsRead, MAX_PREVIEW_DAYS);
    const preview = tally.result();
    return {
      qualifying: preview.qualifying,
      ...(preview.entered === undefined ? {} : { entered: preview.entered }),
      sample: preview.sample,
      usersSeen: preview.usersSeen,
      eventsRead,
      from: range.from,
      to: range.to,
      truncated: partial !== undefined,
      ...(partial === undefined ? {} : { partial }),
    };
  };
}
