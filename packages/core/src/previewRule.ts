import type { PiaEvent } from "./event.js";
import { type PreviewOptions, PreviewTally, type RulePreview } from "./PreviewTally.js";
import type { Rule } from "./rule.js";

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
 * - A rolling rule (window `last`) qualifies a user inside its window at `now`: matches applied in
 *   time order, then every expiry up to `now` (`advanceClock`), as `pia simulate --now` decides. A
 *   rolling rule that resets, a user it fired for at least once. `entered` counts the users who
 *   entered at least once.
 *
 * A disabled rule is previewed as if enabled. Events after `now` are ignored. The events may come
 * in any order, so their matches are held until the end: events read page by page in time order
 * go through a `PreviewTally` instead, which keeps per-user totals (a rolling rule: the events
 * inside each user's window).
 */
export function previewRule(rule: Rule, events: Iterable<PiaEvent>, options: PreviewOptions): RulePreview {
  const tally = new PreviewTally(rule, options);
  tally.add(events);
  return tally.result();
}
