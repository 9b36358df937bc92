import { eventDay } from "@pia/aws";
import { DAY_MS, type PiaEvent, type PreviewUser, parseStrictDate, previewRule, type Rule } from "@pia/core";
import { MAX_PREVIEW_DAYS } from "./config.js";
import { PreviewUnavailableError } from "./errors.js";
import type { Now, ReadEventsByTypeDay } from "./ports.js";
import { validateRule } from "./validateRule.js";

/** Qualifying users a preview lists at most. */
export const PREVIEW_SAMPLE_SIZE = 20;

/** What `POST /rules/preview` answers. */
export interface RulePreviewAnswer {
  /** Users the rule would have notified on the events read. */
  readonly qualifying: number;
  /** The first qualifying users by app id, then user id (at most `PREVIEW_SAMPLE_SIZE`). */
  readonly sample: PreviewUser[];
  /** Users with at least one event of the rule's event type among the events read. */
  readonly usersSeen: number;
  readonly eventsRead: number;
  /** The UTC days read, inclusive (`YYYY-MM-DD`); `to` is before `from` when the window starts after today. */
  readonly from: string;
  readonly to: string;
  /** The preview did not read every event of the days asked for: it stopped at the event limit, or a window longer than 400 days was cut to its last 400 days. */
  readonly truncated: boolean;
}

export interface PreviewDraftRuleDeps {
  /** Absent when the stage has no events table to read (no `EVENTS_TABLE`). */
  readonly readEventsByTypeDay: ReadEventsByTypeDay | undefined;
  readonly now: Now;
  /** Days a rule without a window is previewed on, up to today. */
  readonly days: number;
  /** Events read at most. */
  readonly maxEvents: number;
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
 * it; without a window, the last `days` days up to today (UTC, today included).
 */
function daysToRead(rule: Rule, now: number, days: number): DayRange {
  const today = now - (now % DAY_MS);
  const window = rule.window;
  const last = window === undefined ? today : Math.min(dayStart(window.to), today);
  const wanted = window === undefined ? today - (days - 1) * DAY_MS : dayStart(window.from);
  const first = Math.max(wanted, last - (MAX_PREVIEW_DAYS - 1) * DAY_MS);
  const range: number[] = [];
  for (let day = first; day <= last; day += DAY_MS) range.push(day);
  return {
    from: eventDay(first),
    to: eventDay(last),
    days: range,
    cut: first > wanted,
  };
}

/**
 * Previews a draft rule (validated as `POST /rules/validate` validates it, `InvalidRuleError`
 * otherwise) on the stored events of its event type, read by query from the `byTypeDay` index day
 * by day, and stops after `maxEvents` events. Disabled drafts are previewed as if enabled.
 * `PreviewUnavailableError` when the stage has no index to read.
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
    const events: PiaEvent[] = [];
    let truncated = range.cut;
    reading: for (const day of range.days) {
      for await (const event of read(rule.event, eventDay(day))) {
        if (events.length >= deps.maxEvents) {
          truncated = true;
          break reading;
        }
        events.push(event);
      }
    }
    const preview = previewRule(rule, events, { now, sampleSize: PREVIEW_SAMPLE_SIZE });
    return {
      qualifying: preview.qualifying,
      sample: preview.sample,
      usersSeen: preview.usersSeen,
      eventsRead: events.length,
      from: range.from,
      to: range.to,
      truncated,
    };
  };
}
