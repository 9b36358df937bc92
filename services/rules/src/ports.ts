import type {
  Author,
  ChangeResult,
  ChangeSetResult,
  RuleChange,
  RuleSetChange,
  RuleVersion,
  StoredRule,
} from "@pia/aws";
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

/** The rules table as the API uses it. */
export interface RuleStore {
  /** Every rule, by id. */
  list(): Promise<StoredRule[]>;
  get(id: string): Promise<StoredRule | undefined>;
  /** Every version of a rule id, oldest first; empty when the id never had one. */
  history(id: string): Promise<RuleVersion[]>;
  version(id: string, version: number): Promise<RuleVersion | undefined>;
  /**
   * Reads the rule, lets `decide` make the change from what is stored now (it throws to refuse,
   * returns undefined for nothing to do), then writes the rule, its new version and its counter
   * keys at once, on condition that the rule is still as read. Throws `RuleVersionConflictError`
   * when another change came in between. `version` is the id's version now: the rule's, or when
   * there is none, that of its deletion (0: the id was never used).
   */
  change(
    id: string,
    decide: (current: StoredRule | undefined, version: number) => RuleChange | undefined,
    author: Author,
  ): Promise<ChangeResult>;
  /**
   * `change` for a whole change set, all or nothing: `decide` gets every stored rule and returns
   * the changes (one per id at most), written in one transaction on condition that every changed
   * rule is still as read. Throws `RuleSetConflictError` when one changed in between, and
   * `ChangeSetTooLargeError` (nothing written) when one DynamoDB transaction cannot hold the set.
   * `dryRun`: everything but the write.
   */
  changeSet(
    decide: (current: readonly StoredRule[]) => readonly RuleSetChange[],
    author: Author,
    options?: { readonly dryRun?: boolean },
  ): Promise<ChangeSetResult>;
}

/**
 * The stored events of one event type whose UTC day is `day` (`YYYY-MM-DD`), from the events
 * table's `byTypeDay` index, page after page. Throws `PreviewUnavailableError` when there is no
 * such index to read.
 */
export type ReadEventsByTypeDay = (eventType: string, day: string) => AsyncIterable<PiaEvent>;

/** The clock: epoch milliseconds. */
export type Now = () => number;
