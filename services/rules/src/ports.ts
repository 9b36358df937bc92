import type { PiaEvent, Rule } from "@pia/core";

/** A rule as the API shows it: the canonical rule and its version, the number to send back to change it. */
export interface StoredRule {
  readonly rule: Rule;
  /** Counts every change of this rule id; a new change must name it as the expected version. */
  readonly version: number;
  /** When and by whom the rule was last written (absent for rules written before the API). */
  readonly updatedAt?: string;
  readonly updatedBy?: string;
}

/**
 * How a version came about. `push` is a change made outside the API (`pia rules push` or
 * `pia rules rm`), recorded when the API next changes the rule.
 */
export type ChangeKind = "create" | "update" | "disable" | "enable" | "delete" | "restore" | "push";

/** One entry of a rule's history: the rule before and after a change (absent: no rule). */
export interface RuleVersion {
  readonly ruleId: string;
  readonly version: number;
  readonly change: ChangeKind;
  /** ISO 8601 UTC. */
  readonly at: string;
  /** The caller (IAM user or role ARN, or the token's email or subject), `unknown` when anonymous. */
  readonly by: string;
  readonly before?: Rule;
  readonly after?: Rule;
  /** For a restore: the version whose rule was restored. */
  readonly restoredFrom?: number;
}

/** A change decided from the rule as it is stored now: the rule after it (undefined: deleted). */
export interface RuleChange {
  readonly change: Exclude<ChangeKind, "push">;
  readonly after: Rule | undefined;
  readonly restoredFrom?: number;
}

/** Who makes a change and when (epoch ms). */
export interface Author {
  readonly by: string;
  readonly at: number;
}

/** What `RuleStore.change` leaves: the rule now (undefined: there is none) and the id's version. */
export interface ChangeResult {
  readonly stored: StoredRule | undefined;
  readonly version: number;
}

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
}

/**
 * The stored events of one event type whose UTC day is `day` (`YYYY-MM-DD`), from the events
 * table's `byTypeDay` index, page after page. Throws `PreviewUnavailableError` when there is no
 * such index to read.
 */
export type ReadEventsByTypeDay = (eventType: string, day: string) => AsyncIterable<PiaEvent>;

/** The clock: epoch milliseconds. */
export type Now = () => number;
