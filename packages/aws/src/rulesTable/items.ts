import type { Rule, RuleIssue } from "@pia/core";
import { counterKey, isRollingWindow } from "@pia/core";
import type { BackfillMode } from "../backfill.js";
import { InvalidStoredRulesError, validateStoredRules } from "../ruleSource.js";

// The rules table's vocabulary: every partition, sort key and attribute name of `TABLES.rules` is
// spelled here and nowhere else (the rest of this folder builds requests from these functions).
// The shapes are what is deployed: changing one is a data migration, not a refactor.

/** A key of the rules table. */
export interface RulesTableKey {
  readonly pk: string;
  readonly sk: string;
}

export type Item = Record<string, unknown>;

/** Rule items: `{ pk, sk: rule id, rule: canonical JSON, counterKey, updatedAt, updatedBy?, version? }`. */
const RULE_PARTITION = "rule";
/** The counter key registry: `{ pk, sk: counter key, ruleId }`. */
const COUNTER_KEY_PARTITION = "counterKey";
/** Closing decisions made by timeseries: `{ pk, sk: counter key, decidedAt }`. */
const DECIDED_PARTITION = "decided";
/**
 * One rule id's history, one partition per id: `{ pk, sk: the version, 10 digits, ruleId,
 * version, change, at, by, before?, after? (canonical JSON), restoredFrom? }`.
 */
const versionPartition = (ruleId: string) => `version#${ruleId}`;
/** Backfill jobs, one per counting: `{ pk, sk: counter key, ruleId, mode, state, ... }` (`BackfillJob`). */
const BACKFILL_PARTITION = "backfill";
const versionSortKey = (version: number) => String(version).padStart(10, "0");

export const ruleKey = (id: string): RulesTableKey => ({ pk: RULE_PARTITION, sk: id });
export const counterKeyKey = (key: string): RulesTableKey => ({ pk: COUNTER_KEY_PARTITION, sk: key });
export const decidedKey = (key: string): RulesTableKey => ({ pk: DECIDED_PARTITION, sk: key });
export const backfillKey = (key: string): RulesTableKey => ({ pk: BACKFILL_PARTITION, sk: key });
export const versionKey = (ruleId: string, version: number): RulesTableKey => ({
  pk: versionPartition(ruleId),
  sk: versionSortKey(version),
});

/** The partitions read whole (by query, paged). */
export const PARTITIONS = {
  rules: RULE_PARTITION,
  counterKeys: COUNTER_KEY_PARTITION,
  versionsOf: versionPartition,
  backfills: BACKFILL_PARTITION,
} as const;

/** The key condition of a query of one partition. */
export const partitionQuery = (pk: string) => ({
  KeyConditionExpression: "pk = :pk",
  ExpressionAttributeValues: { ":pk": pk },
});

// ---------------------------------------------------------------------------------------------
// Conditions on items, for conditional and transactional writes.

/** A condition on an item. */
export interface ItemCondition {
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

/** The item does not exist (a version number is taken once; a rule id is free). */
export const ABSENT: ItemCondition = { ConditionExpression: "attribute_not_exists(pk)" };

/** The rule item is still at the version the API gave it. */
export const atVersion = (version: number): ItemCondition => ({
  ConditionExpression: "#version = :version",
  ExpressionAttributeNames: { "#version": "version" },
  ExpressionAttributeValues: { ":version": version },
});

/**
 * The rule item is still as a push left it: a push that changes a rule rewrites the item without
 * `version`; one that does not change it leaves the item alone.
 */
export const asPushed = (ruleText: unknown): ItemCondition => ({
  ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(#version) AND #rule = :rule",
  ExpressionAttributeNames: { "#version": "version", "#rule": "rule" },
  ExpressionAttributeValues: { ":rule": ruleText },
});

// ---------------------------------------------------------------------------------------------
// Rule items

/**
 * The rule as stored: canonical JSON with a fixed key order and sorted `where`, so that an
 * unchanged rule gives the same text and is not rewritten (and two rules are equal when their
 * texts are).
 */
export function canonicalRuleJson(rule: Rule): string {
  const { where, count, sum, window, action } = rule;
  return JSON.stringify({
    id: rule.id,
    event: rule.event,
    ...(where === undefined
      ? {}
      : {
          where: Object.fromEntries(Object.entries(where).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
        }),
    ...(count === undefined ? {} : { count: { op: count.op, value: count.value } }),
    ...(sum === undefined
      ? {}
      : {
          sum: { ...(sum.metric === undefined ? {} : { metric: sum.metric }), op: sum.op, value: sum.value },
        }),
    ...(window === undefined
      ? {}
      : { window: isRollingWindow(window) ? { last: window.last } : { from: window.from, to: window.to } }),
    action: {
      ...(action.type === "attribute"
        ? { type: action.type, name: action.name, value: action.value }
        : { type: action.type, name: action.name }),
      ...(action.sink === undefined ? {} : { sink: action.sink }),
    },
    reset: rule.reset,
    enabled: rule.enabled,
  });
}

/**
 * A rule item. `pia rules push` writes it without `updatedBy` and `version`; the rules API with
 * both (a rule item without `version` is one the API has not recorded yet).
 */
export function ruleItem(
  rule: Rule,
  written: { readonly updatedAt: string; readonly updatedBy?: string; readonly version?: number },
): Item {
  return {
    ...ruleKey(rule.id),
    rule: canonicalRuleJson(rule),
    counterKey: counterKey(rule),
    updatedAt: written.updatedAt,
    ...(written.updatedBy === undefined ? {} : { updatedBy: written.updatedBy }),
    ...(written.version === undefined ? {} : { version: written.version }),
  };
}

/** What a rule item says besides its rule. */
export interface RuleItemFacts {
  readonly id: string;
  /** The stored text, compared by push (rewrite only what differs) and by `asPushed`. */
  readonly text: unknown;
  readonly counterKey: unknown;
  readonly updatedAt: string | undefined;
  readonly updatedBy: string | undefined;
  /** Absent on items written by push. */
  readonly version: number | undefined;
}

export function ruleItemFacts(item: Item): RuleItemFacts {
  return {
    id: String(item.sk),
    text: item.rule,
    counterKey: item.counterKey,
    updatedAt: typeof item.updatedAt === "string" ? item.updatedAt : undefined,
    updatedBy: typeof item.updatedBy === "string" ? item.updatedBy : undefined,
    version: typeof item.version === "number" ? item.version : undefined,
  };
}

/**
 * The rules of rule items, in item order, validated like a rules file; throws
 * `InvalidStoredRulesError` naming every item that is not a valid rule.
 */
export function parseRuleItems(items: readonly Item[], source: string): Rule[] {
  const issues: RuleIssue[] = [];
  const parsed: unknown[] = [];
  for (const item of items) {
    const ruleId = String(item.sk);
    const problem = (message: string) => issues.push({ severity: "error", ruleId, message });
    if (typeof item.rule !== "string") {
      problem("the item has no `rule` text attribute");
      continue;
    }
    let rule: unknown;
    try {
      rule = JSON.parse(item.rule);
    } catch (error: unknown) {
      problem(`the stored rule is not JSON (${error instanceof Error ? error.message : String(error)})`);
      continue;
    }
    const id = typeof rule === "object" && rule !== null ? (rule as { id?: unknown }).id : undefined;
    if (id !== ruleId) {
      problem(`the stored rule's id ${JSON.stringify(id) ?? "(none)"} differs from the item's key`);
      continue;
    }
    parsed.push(rule);
  }
  if (issues.length > 0) throw new InvalidStoredRulesError(source, issues);
  return [...validateStoredRules(parsed, source)];
}

// ---------------------------------------------------------------------------------------------
// The counter key registry and closing decisions

export const counterKeyItem = (key: string, ruleId: string): Item => ({ ...counterKeyKey(key), ruleId });

/** A registry entry; every key is `<rule id>#<fingerprint>`, so the id survives a lost attribute. */
export function counterKeyOfItem(item: Item): { counterKey: string; ruleId: string } {
  const key = String(item.sk);
  const ruleId = typeof item.ruleId === "string" ? item.ruleId : key.slice(0, key.lastIndexOf("#"));
  return { counterKey: key, ruleId };
}

export const decidedItem = (key: string, decidedAt: number): Item => ({
  ...decidedKey(key),
  decidedAt: new Date(decidedAt).toISOString(),
});

/** A run's claim on a closing decision: `{ pk, sk: counter key, owner, leaseUntil }` (epoch ms). */
export const claimItem = (key: string, owner: string, leaseUntil: number): Item => ({
  ...decidedKey(key),
  owner,
  leaseUntil,
});

/** Free, or claimed by a run whose lease has passed (a decided item has no lease, so it stays). */
export const CLAIMABLE = {
  ConditionExpression: "attribute_not_exists(pk) OR leaseUntil < :now",
} as const;

/** Held by this owner. */
export const ownedBy = (owner: string) => ({
  ConditionExpression: "#owner = :owner",
  ExpressionAttributeNames: { "#owner": "owner" },
  ExpressionAttributeValues: { ":owner": owner },
});

/** Whether a decision item records a decision made (not only a claim). */
export const isDecided = (item: Item | undefined): boolean => item?.decidedAt !== undefined;

// ---------------------------------------------------------------------------------------------
// Backfill jobs (docs/rules.md section 9)

/**
 * Where a backfill is: `requested` (by a push or the API; no boundary yet), `settling` (boundary
 * set; history not complete until `settledAt`), `discovering` (merging the users found through the
 * `byTypeDay` index, day by day), `sweeping` (merging counters that still hold live matches),
 * `done`.
 */
export type BackfillState = "requested" | "settling" | "discovering" | "sweeping" | "done";

export const BACKFILL_STATES: readonly BackfillState[] = [
  "requested",
  "settling",
  "discovering",
  "sweeping",
  "done",
];

/** What a backfill has done so far (shown by `pia rules status` and the editor). */
export interface BackfillProgress {
  /** Days of the `byTypeDay` index read, of `daysTotal` to read. */
  readonly days: number;
  readonly daysTotal: number;
  /** Users whose history was merged by the job (aggregate merges others on their next event). */
  readonly merged: number;
  /** History events read. */
  readonly eventsRead: number;
  /** Notifications the merges decided. */
  readonly notifications: number;
}

export const NO_PROGRESS: BackfillProgress = {
  days: 0,
  daysTotal: 0,
  merged: 0,
  eventsRead: 0,
  notifications: 0,
};

/** One counting's backfill, as the rules table stores it under `backfillKey(counterKey)`. */
export interface BackfillJob {
  readonly counterKey: string;
  readonly ruleId: string;
  readonly mode: BackfillMode;
  /** Epoch ms. */
  readonly requestedAt: number;
  readonly requestedBy?: string;
  readonly state: BackfillState;
  /** Epoch ms, set by the job once the rule is stored (see packages/aws/src/backfill.ts). */
  readonly boundary?: number;
  readonly settledAt?: number;
  /** The job's place in its current state, opaque JSON text (a day and a query key). */
  readonly cursor?: string;
  readonly progress: BackfillProgress;
  /** Epoch ms of the last save. */
  readonly updatedAt: number;
  readonly finishedAt?: number;
  /** Bumped by every save: saves condition on it, so overlapping runs never move a job back. */
  readonly rev: number;
}

/** A backfill job as a push or the API requests it: no boundary yet (the job sets it). */
export function newBackfillJob(
  key: string,
  ruleId: string,
  request: { readonly mode: BackfillMode; readonly requestedBy?: string },
  at: number,
): BackfillJob {
  return {
    counterKey: key,
    ruleId,
    mode: request.mode,
    requestedAt: at,
    ...(request.requestedBy === undefined ? {} : { requestedBy: request.requestedBy }),
    state: "requested",
    progress: NO_PROGRESS,
    updatedAt: at,
    rev: 1,
  };
}

export const backfillItem = (job: BackfillJob): Item => ({
  ...backfillKey(job.counterKey),
  ...job,
  progress: { ...job.progress },
});

function finite(value: unknown, field: string, key: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`rules table: backfill ${JSON.stringify(key)}: ${field} is not a number`);
  }
  return value;
}

/** A stored backfill job; throws naming the field when the item is not one. */
export function backfillJobOf(item: Item): BackfillJob {
  const key = String(item.sk);
  const optional = (field: string) =>
    item[field] === undefined ? undefined : finite(item[field], field, key);
  const mode = item.mode;
  if (mode !== "notify" && mode !== "silent") {
    throw new Error(`rules table: backfill ${JSON.stringify(key)}: mode is not "notify" or "silent"`);
  }
  const state = item.state;
  if (!BACKFILL_STATES.includes(state as BackfillState)) {
    throw new Error(
      `rules table: backfill ${JSON.stringify(key)}: state is not one of ${BACKFILL_STATES.join(", ")}`,
    );
  }
  const progress = (typeof item.progress === "object" && item.progress !== null ? item.progress : {}) as Item;
  const boundary = optional("boundary");
  const settledAt = optional("settledAt");
  const finishedAt = optional("finishedAt");
  return {
    counterKey: key,
    ruleId: String(item.ruleId),
    mode,
    requestedAt: finite(item.requestedAt, "requestedAt", key),
    ...(typeof item.requestedBy === "string" ? { requestedBy: item.requestedBy } : {}),
    state: state as BackfillState,
    ...(boundary === undefined ? {} : { boundary }),
    ...(settledAt === undefined ? {} : { settledAt }),
    ...(typeof item.cursor === "string" ? { cursor: item.cursor } : {}),
    progress: {
      days: Number(progress.days ?? 0),
      daysTotal: Number(progress.daysTotal ?? 0),
      merged: Number(progress.merged ?? 0),
      eventsRead: Number(progress.eventsRead ?? 0),
      notifications: Number(progress.notifications ?? 0),
    },
    updatedAt: finite(item.updatedAt, "updatedAt", key),
    ...(finishedAt === undefined ? {} : { finishedAt }),
    rev: finite(item.rev, "rev", key),
  };
}

/** The job is still at the `rev` it was read at. */
export const atRev = (rev: number): ItemCondition => ({
  ConditionExpression: "#rev = :rev",
  ExpressionAttributeNames: { "#rev": "rev" },
  ExpressionAttributeValues: { ":rev": rev },
});

// ---------------------------------------------------------------------------------------------
// Versions

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

function ruleOfText(text: unknown): Rule | undefined {
  return typeof text === "string" ? (JSON.parse(text) as Rule) : undefined;
}

export function versionOfItem(item: Item): RuleVersion {
  const before = ruleOfText(item.before);
  const after = ruleOfText(item.after);
  return {
    ruleId: String(item.ruleId),
    version: Number(item.version),
    change: String(item.change) as ChangeKind,
    at: String(item.at),
    by: String(item.by),
    ...(before === undefined ? {} : { before }),
    ...(after === undefined ? {} : { after }),
    ...(typeof item.restoredFrom === "number" ? { restoredFrom: item.restoredFrom } : {}),
  };
}

export function versionItem(version: RuleVersion): Item {
  return {
    ...versionKey(version.ruleId, version.version),
    ruleId: version.ruleId,
    version: version.version,
    change: version.change,
    at: version.at,
    by: version.by,
    ...(version.before === undefined ? {} : { before: canonicalRuleJson(version.before) }),
    ...(version.after === undefined ? {} : { after: canonicalRuleJson(version.after) }),
    ...(version.restoredFrom === undefined ? {} : { restoredFrom: version.restoredFrom }),
  };
}
