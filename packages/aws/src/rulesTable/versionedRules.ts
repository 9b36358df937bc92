import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import type { Rule } from "@pia/core";
import { counterKey, isRollingWindow } from "@pia/core";
import type { BackfillMode } from "../backfill.js";
import {
  ABSENT,
  asPushed,
  atRev,
  atVersion,
  type BackfillJob,
  backfillItem,
  backfillJobOf,
  backfillKey,
  type ChangeKind,
  counterKeyItem,
  counterKeyKey,
  type Item,
  type ItemCondition,
  newBackfillJob,
  PARTITIONS,
  parseRuleItems,
  partitionQuery,
  type RuleVersion,
  ruleItem,
  ruleItemFacts,
  ruleKey,
  versionItem,
  versionKey,
  versionOfItem,
} from "./items.js";

/** A rule as the rules API shows it: the canonical rule and its version, the number to send back to change it. */
export interface StoredRule {
  readonly rule: Rule;
  /** Counts every change of this rule id; a new change must name it as the expected version. */
  readonly version: number;
  /** When and by whom the rule was last written (absent for rules written before the API). */
  readonly updatedAt?: string;
  readonly updatedBy?: string;
}

/** A change decided from the rule as it is stored now: the rule after it (undefined: deleted). */
export interface RuleChange {
  readonly change: Exclude<ChangeKind, "push">;
  readonly after: Rule | undefined;
  readonly restoredFrom?: number;
}

/** One rule id's change within a change set. */
export interface RuleSetChange {
  readonly id: string;
  readonly change: RuleChange;
}

/** Who makes a change and when (epoch ms). */
export interface Author {
  readonly by: string;
  readonly at: number;
}

/** A request to count a new counting's stored history (docs/rules.md section 9). */
export interface BackfillRequest {
  readonly mode: BackfillMode;
}

/**
 * What became of a backfill request: `requested` (the counting is new: its job is stored with
 * the rule), `alreadyCounting` (the counting was registered before, so its counters
 * already count: nothing to backfill), `notSupported` (rolling windows are not backfilled).
 */
export type BackfillOutcome = "requested" | "alreadyCounting" | "notSupported";

export const BACKFILL_OUTCOMES: readonly BackfillOutcome[] = ["requested", "alreadyCounting", "notSupported"];

/** What a change leaves: the rule now (undefined: there is none) and the id's version. */
export interface ChangeResult {
  readonly stored: StoredRule | undefined;
  readonly version: number;
  /** With `ChangeOptions.backfill`, when a rule remains: what became of the request. */
  readonly backfill?: BackfillOutcome;
}

export interface ChangeOptions {
  /**
   * Backfills the rule's counting when the change leaves a rule whose counter key is new (never
   * registered): its job is written in the change's transaction, so whoever sees the rule sees
   * its backfill. Never refuses the change: the outcome says what became of the request.
   */
  readonly backfill?: BackfillRequest;
}

/** What a change set did (or, in a dry run, would do): each changed id and its new version. */
export interface ChangeSetResult {
  readonly changed: readonly { readonly id: string; readonly change: ChangeKind; readonly version: number }[];
  /** Items of the one transaction that writes the set (0: nothing to write). */
  readonly transactionItems: number;
}

/** Whom a change made outside the API (`pia rules push`, `pia rules rm`) is attributed to. */
export const OUTSIDE_AUTHOR = "pia rules push";

/** TransactWriteItems takes at most this many items per call. */
export const TRANSACTION_ITEM_LIMIT = 100;
/** ...and at most this many bytes in all. */
export const TRANSACTION_BYTE_LIMIT = 4 * 1024 * 1024;

/**
 * A conditional write failed: a rule changed between the read and the write (another request,
 * a push). Nothing of the change (set) was written.
 */
export class RulesTableConflictError extends Error {
  override readonly name = "RulesTableConflictError";
  constructor(
    /** The ids whose change was refused (for a change set: every id it changed). */
    readonly ruleIds: readonly string[],
    /** For one rule: the version the change was made from. */
    readonly readVersion: number | undefined,
    options?: ErrorOptions,
  ) {
    super(
      `${ruleIds.length === 1 ? `rule ${JSON.stringify(ruleIds[0])}` : `one of the rules ${ruleIds.map((id) => JSON.stringify(id)).join(", ")}`} changed while the change was being written; nothing was written: read again and redo the change`,
      options,
    );
  }
}

/** A change set that one DynamoDB transaction cannot hold; nothing was written. */
export class ChangeSetTooLargeError extends Error {
  override readonly name = "ChangeSetTooLargeError";
  constructor(
    readonly rulesChanged: number,
    readonly items: number,
    readonly bytes: number,
  ) {
    const over =
      items > TRANSACTION_ITEM_LIMIT
        ? `${items} items, over DynamoDB's limit of ${TRANSACTION_ITEM_LIMIT} per transaction`
        : `about ${bytes} bytes, over DynamoDB's limit of ${TRANSACTION_BYTE_LIMIT} bytes per transaction`;
    super(
      `the change set changes ${rulesChanged} rules, which takes ${over} (each changed rule takes 2 to 5 items: the rule, its versions, its counter keys); nothing was written: change fewer rules at once, or push the file with pia rules push (not atomic, no limit)`,
    );
  }
}

/** The rules API's view of the rules table: rules with versions, every change in one transaction. */
export interface VersionedRules {
  /** Every rule, by id. */
  list(): Promise<StoredRule[]>;
  get(id: string): Promise<StoredRule | undefined>;
  /** Every version of a rule id, oldest first; empty when the id never had one. */
  history(id: string): Promise<RuleVersion[]>;
  version(id: string, version: number): Promise<RuleVersion | undefined>;
  /**
   * Reads the rule, lets `decide` make the change from what is stored now (it throws to refuse,
   * returns undefined for nothing to do), then writes the rule, its new version and its counter
   * keys at once, on condition that the rule is still as read. Throws `RulesTableConflictError`
   * when another change came in between. `version` is the id's version now: the rule's, or when
   * there is none, that of its deletion (0: the id was never used). With `options.backfill`, also
   * the rule's backfill job when its counting is new (see `ChangeOptions`), requested by the author.
   */
  change(
    id: string,
    decide: (current: StoredRule | undefined, version: number) => RuleChange | undefined,
    author: Author,
    options?: ChangeOptions,
  ): Promise<ChangeResult>;
  /**
   * `change` for many rules at once, all or nothing: reads every rule, lets `decide` make the
   * changes (at most one per id), then writes them in one transaction, on condition that every
   * changed rule is still as read. Throws `ChangeSetTooLargeError` before writing when the
   * transaction would exceed DynamoDB's limits, `RulesTableConflictError` when a changed rule
   * changed in between. `dryRun`: everything but the write.
   */
  changeSet(
    decide: (current: readonly StoredRule[]) => readonly RuleSetChange[],
    author: Author,
    options?: { readonly dryRun?: boolean },
  ): Promise<ChangeSetResult>;
  /** The backfill job of a counting (a counter key), if one was ever requested. */
  backfill(counterKey: string): Promise<BackfillJob | undefined>;
  /** Every backfill job, in counter key order (one query, for a list of rules). */
  backfills(): Promise<BackfillJob[]>;
}

type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** A backfill request decided for one change: the outcome and, when requested, what to write. */
interface BackfillPlan {
  readonly outcome: BackfillOutcome;
  /** The new counting's key (requested only). */
  readonly key?: string;
  /** The job to store (requested only), and the condition on the job slot it is stored in. */
  readonly job?: BackfillJob;
  readonly jobCondition?: ItemCondition;
}

const isRolling = (rule: Rule) => rule.window !== undefined && isRollingWindow(rule.window);

/** A rule id as read: what a change is decided on, and how to tell that it is still so. */
interface Snapshot {
  readonly stored: StoredRule | undefined;
  /** The id's version now (see `VersionedRules.change`). */
  readonly version: number;
  /**
   * When the rule was written or deleted outside the API since its last recorded version: the
   * version that records that, numbered `version` (the next change records it first).
   */
  readonly unrecorded: RuleVersion | undefined;
  readonly condition: ItemCondition;
}

/** `TransactionCanceledException` because a condition failed or another transaction held an item. */
function isConflict(error: unknown): boolean {
  if (!(error instanceof TransactionCanceledException)) return false;
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code);
  if (codes.length === 0) return /ConditionalCheckFailed|TransactionConflict/.test(error.message);
  return codes.some((code) => code === "ConditionalCheckFailed" || code === "TransactionConflict");
}

/**
 * Rule items as `pia rules push` writes them plus `version` and `updatedBy`, each rule id's history
 * in its own partition, and the counter key registry. Rules written by `pia rules push` carry no
 * `version` (push rewrites whole items): such a state counts as one version more than the last
 * recorded one, recorded (`change: "push"`) by the next change made through the API.
 */
export function buildVersionedRules(
  client: DynamoDBDocumentClient,
  tableName: string,
  io: {
    readonly now: () => number;
    readonly queryAll: (pk: string) => Promise<Item[]>;
  },
): VersionedRules {
  const { now, queryAll } = io;
  const source = `rules table ${tableName}`;

  async function latestVersion(id: string): Promise<RuleVersion | undefined> {
    const output = await client.send(
      new QueryCommand({
        TableName: tableName,
        ...partitionQuery(PARTITIONS.versionsOf(id)),
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const [item] = output.Items ?? [];
    return item === undefined ? undefined : versionOfItem(item);
  }

  async function readRuleItem(id: string): Promise<Item | undefined> {
    const output = await client.send(
      new GetCommand({ TableName: tableName, Key: ruleKey(id), ConsistentRead: true }),
    );
    return output.Item;
  }

  /** The snapshot of a rule id from its rule item and its last recorded version. */
  function describe(
    id: string,
    item: Item | undefined,
    latest: RuleVersion | undefined,
    at: number,
  ): Snapshot {
    const recorded = latest?.version ?? 0;
    if (item === undefined) {
      if (latest?.after === undefined)
        return { stored: undefined, version: recorded, unrecorded: undefined, condition: ABSENT };
      // Deleted outside the API (`pia rules push` without it, `pia rules rm`): when is unknown.
      const version = recorded + 1;
      return {
        stored: undefined,
        version,
        unrecorded: {
          ruleId: id,
          version,
          change: "push",
          at: new Date(at).toISOString(),
          by: OUTSIDE_AUTHOR,
          before: latest.after,
        },
        condition: ABSENT,
      };
    }
    const [rule] = parseRuleItems([item], source);
    if (rule === undefined) throw new Error(`${source}: rule ${id} could not be read`);
    const facts = ruleItemFacts(item);
    const updatedAt = facts.updatedAt === undefined ? {} : { updatedAt: facts.updatedAt };
    if (facts.version !== undefined) {
      return {
        stored: {
          rule,
          version: facts.version,
          ...updatedAt,
          ...(facts.updatedBy === undefined ? {} : { updatedBy: facts.updatedBy }),
        },
        version: facts.version,
        unrecorded: undefined,
        condition: atVersion(facts.version),
      };
    }
    const version = recorded + 1;
    return {
      stored: { rule, version, ...updatedAt, updatedBy: OUTSIDE_AUTHOR },
      version,
      unrecorded: {
        ruleId: id,
        version,
        change: "push",
        at: facts.updatedAt ?? new Date(at).toISOString(),
        by: OUTSIDE_AUTHOR,
        ...(latest?.after === undefined ? {} : { before: latest.after }),
        after: rule,
      },
      condition: asPushed(facts.text),
    };
  }

  async function snapshot(id: string, at: number): Promise<Snapshot> {
    const [item, latest] = await Promise.all([readRuleItem(id), latestVersion(id)]);
    return describe(id, item, latest, at);
  }

  /** Snapshots of every stored rule; only rules pushed since their last recorded version need their history. */
  async function snapshotAll(at: number): Promise<Map<string, Snapshot>> {
    const items = await queryAll(PARTITIONS.rules);
    // Validated together first, so that the error names every invalid rule, not the first.
    parseRuleItems(items, source);
    const snapshots = await Promise.all(
      items.map(async (item) => {
        const { id, version } = ruleItemFacts(item);
        const latest = version === undefined ? await latestVersion(id) : undefined;
        return [id, describe(id, item, latest, at)] as const;
      }),
    );
    return new Map(snapshots);
  }

  /** The writes of one change: the rule item, its version(s), its counter keys; and the id's new version. */
  function writesOf(
    id: string,
    read: Snapshot,
    change: RuleChange,
    author: Author,
  ): { items: TransactItem[]; version: number; stored: StoredRule | undefined } {
    const version = read.version + 1;
    const at = new Date(author.at).toISOString();
    const before = read.stored?.rule;
    const recorded: RuleVersion = {
      ruleId: id,
      version,
      change: change.change,
      at,
      by: author.by,
      ...(before === undefined ? {} : { before }),
      ...(change.after === undefined ? {} : { after: change.after }),
      ...(change.restoredFrom === undefined ? {} : { restoredFrom: change.restoredFrom }),
    };
    const items: TransactItem[] = [];
    if (change.after === undefined) {
      items.push({ Delete: { TableName: tableName, Key: ruleKey(id), ...read.condition } });
    } else {
      const item = ruleItem(change.after, { updatedAt: at, updatedBy: author.by, version });
      items.push({ Put: { TableName: tableName, Item: item, ...read.condition } });
    }
    // A version number is taken once: two writers that read the same state cannot both record it.
    for (const entry of [read.unrecorded, recorded]) {
      if (entry === undefined) continue;
      items.push({ Put: { TableName: tableName, Item: versionItem(entry), ...ABSENT } });
    }
    // As `pia rules push` does: every counter key a rule had is registered, so that the cleanup
    // finds the counters of edited and deleted rules.
    const keys = new Map<string, string>();
    for (const rule of [before, change.after]) if (rule !== undefined) keys.set(counterKey(rule), rule.id);
    for (const [registered, ruleId] of keys) {
      items.push({ Put: { TableName: tableName, Item: counterKeyItem(registered, ruleId) } });
    }
    const stored =
      change.after === undefined
        ? undefined
        : { rule: change.after, version, updatedAt: at, updatedBy: author.by };
    return { items, version, stored };
  }

  async function write(items: readonly TransactItem[], ruleIds: readonly string[], readVersion?: number) {
    try {
      await client.send(new TransactWriteCommand({ TransactItems: [...items] }));
    } catch (error: unknown) {
      if (isConflict(error)) throw new RulesTableConflictError(ruleIds, readVersion, { cause: error });
      throw error;
    }
  }

  async function readItem(key: { pk: string; sk: string }): Promise<Item | undefined> {
    const output = await client.send(
      new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }),
    );
    return output.Item;
  }

  /** A backfill request's outcome for a rule the change leaves unchanged. */
  function unchanged(rule: Rule): BackfillOutcome {
    return isRolling(rule) ? "notSupported" : "alreadyCounting";
  }

  /**
   * What a backfill request for the rule a change leaves comes to. A counting is new when its
   * counter key is not registered: every writer (push, this API) registers a key before or with
   * the rule that counts it, so a registered key has counters that already count. A job found for
   * an unregistered key is left over (a push cut short, or a counting the cleanup forgot): it
   * belongs to no counting that counts, so the new job replaces it, conditional on the job read.
   */
  async function planBackfill(rule: Rule, request: BackfillRequest, author: Author): Promise<BackfillPlan> {
    if (isRolling(rule)) return { outcome: "notSupported" };
    const key = counterKey(rule);
    const [registered, leftOver] = await Promise.all([
      readItem(counterKeyKey(key)),
      readItem(backfillKey(key)),
    ]);
    if (registered !== undefined) return { outcome: "alreadyCounting" };
    return {
      outcome: "requested",
      key,
      job: newBackfillJob(key, rule.id, { mode: request.mode, requestedBy: author.by }, author.at),
      jobCondition: leftOver === undefined ? ABSENT : atRev(backfillJobOf(leftOver).rev),
    };
  }

  /**
   * Adds a requested backfill to a change's transaction: the job (on condition that the job slot
   * is as read), and the registration of its key, on condition that it is still new. A push that
   * registers the key meanwhile cancels the transaction (a conflict: read again, and the counting
   * is known).
   */
  function applyPlan(items: TransactItem[], plan: BackfillPlan): void {
    if (plan.outcome !== "requested" || plan.key === undefined || plan.job === undefined) return;
    const registration = counterKeyKey(plan.key);
    for (const entry of items) {
      const put = entry.Put;
      if (put?.Item?.pk === registration.pk && put.Item.sk === registration.sk) Object.assign(put, ABSENT);
    }
    items.push({ Put: { TableName: tableName, Item: backfillItem(plan.job), ...plan.jobCondition } });
  }

  return {
    async backfill(key) {
      const item = await readItem(backfillKey(key));
      return item === undefined ? undefined : backfillJobOf(item);
    },

    async backfills() {
      return (await queryAll(PARTITIONS.backfills)).map(backfillJobOf);
    },

    async list() {
      return [...(await snapshotAll(now())).values()].flatMap((read) =>
        read.stored === undefined ? [] : [read.stored],
      );
    },

    async get(id) {
      return (await snapshot(id, now())).stored;
    },

    async history(id) {
      const [item, items] = await Promise.all([readRuleItem(id), queryAll(PARTITIONS.versionsOf(id))]);
      const versions = items.map(versionOfItem);
      const { unrecorded } = describe(id, item, versions.at(-1), now());
      return unrecorded === undefined ? versions : [...versions, unrecorded];
    },

    async version(id, version) {
      const output = await client.send(
        new GetCommand({ TableName: tableName, Key: versionKey(id, version), ConsistentRead: true }),
      );
      if (output.Item !== undefined) return versionOfItem(output.Item);
      const { unrecorded } = await snapshot(id, now());
      return unrecorded?.version === version ? unrecorded : undefined;
    },

    async change(id, decide, author, options = {}) {
      const read = await snapshot(id, author.at);
      const change = decide(read.stored, read.version);
      if (change === undefined) {
        // Nothing written: the stored rule's counting is the one it had, registered when it was written.
        const backfill =
          options.backfill === undefined || read.stored === undefined
            ? undefined
            : unchanged(read.stored.rule);
        return {
          stored: read.stored,
          version: read.version,
          ...(backfill === undefined ? {} : { backfill }),
        };
      }
      const { items, version, stored } = writesOf(id, read, change, author);
      const plan =
        options.backfill === undefined || change.after === undefined
          ? undefined
          : await planBackfill(change.after, options.backfill, author);
      // At most 6 items (the rule, 2 versions, 2 keys, the job): far under TRANSACTION_ITEM_LIMIT.
      if (plan !== undefined) applyPlan(items, plan);
      await write(items, [id], read.version);
      return { stored, version, ...(plan === undefined ? {} : { backfill: plan.outcome }) };
    },

    async changeSet(decide, author, options = {}) {
      const stored = await snapshotAll(author.at);
      const changes = decide(
        [...stored.values()].flatMap((read) => (read.stored === undefined ? [] : [read.stored])),
      );
      const ids = changes.map((entry) => entry.id);
      if (new Set(ids).size !== ids.length) throw new Error("a change set changes each rule id at most once");
      // Ids the set creates may have a history (deleted earlier): their next version follows it.
      const reads = await Promise.all(
        changes.map(
          async ({ id }) => stored.get(id) ?? describe(id, undefined, await latestVersion(id), author.at),
        ),
      );
      const items: TransactItem[] = [];
      const changed: { id: string; change: ChangeKind; version: number }[] = [];
      for (const [index, { id, change }] of changes.entries()) {
        const read = reads[index];
        if (read === undefined) throw new Error(`rule ${id} was not read`);
        const writes = writesOf(id, read, change, author);
        items.push(...writes.items);
        changed.push({ id, change: change.change, version: writes.version });
      }
      // JSON is longer than DynamoDB's own measure of an item, so this errs on the safe side.
      const bytes = Buffer.byteLength(JSON.stringify(items));
      if (items.length > TRANSACTION_ITEM_LIMIT || bytes > TRANSACTION_BYTE_LIMIT)
        throw new ChangeSetTooLargeError(changes.length, items.length, bytes);
      if (!options.dryRun && items.length > 0) await write(items, ids);
      return { changed, transactionItems: items.length };
    },
  };
}
