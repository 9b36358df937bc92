import type { VersionedRules } from "@pia/aws";
import type { PiaEvent } from "@pia/core";

// The rules table's records (their stored form is owned by @pia/aws's rules table).
export type {
  Author,
  ChangeKind,
  ChangeResult,
  ChangeSetResult,
  RuleChange,
  RuleSetChange,
  RuleVersion,
  StoredRule,
} from "@pia/aws";

/**
 * The rules table as the API uses it: @pia/aws's versioned rules (one definition of the calls),
 * except that the adapter (`buildRuleStore`) turns the table's `RulesTableConflictError` into the
 * API's `RuleVersionConflictError` (one rule) and `RuleSetConflictError` (a change set).
 */
export type RuleStore = VersionedRules;

/**
 * The stored events of one event type whose UTC day is `day` (`YYYY-MM-DD`), from the events
 * table's `byTypeDay` index, page after page. Throws `PreviewUnavailableError` when there is no
 * such index to read.
 */
export type ReadEventsByTypeDay = (eventType: string, day: string) => AsyncIterable<PiaEvent>;

/** The clock: epoch milliseconds. */
export type Now = () => number;
