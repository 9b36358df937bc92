import { TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { COUNTER_KEY_PARTITION, canonicalRuleJson, parseRuleItems, RULE_PARTITION } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey } from "@pia/core";
import { RuleVersionConflictError } from "../errors.js";
import type { ChangeKind, RuleStore, RuleVersion, StoredRule } from "../ports.js";

/**
 * Partition of one rule id's history in the rules table: `{ pk, sk: the version, 10 digits,
 * ruleId, version, change, at, by, before?, after? (canonical JSON), restoredFrom? }`.
 */
export function versionPartition(ruleId: string): string {
  return `version#${ruleId}`;
}

function versionSortKey(version: number): string {
  return String(version).padStart(10, "0");
}

/** Whom a change made outside the API (`pia rules push`, `pia rules rm`) is attributed to. */
export const OUTSIDE_AUTHOR = "pia rules push";

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/** A condition on the rule item: that it is still as it was read. */
interface ItemCondition {
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames?: Record<string, string>;
  readonly ExpressionAttributeValues?: Record<string, unknown>;
}

/** A rule id as read: what a change is decided on, and how to tell that it is still so. */
interface Snapshot {
  readonly stored: StoredRule | undefined;
  /** The id's version now (see `RuleStore.change`). */
  readonly version: number;
  /**
   * When the rule was written or deleted outside the API since its last recorded version: the
   * version that records that, numbered `version` (the next change records it first).
   */
  readonly unrecorded: RuleVersion | undefined;
  readonly condition: ItemCondition;
}

const ABSENT: ItemCondition = { ConditionExpression: "attribute_not_exists(pk)" };

function ruleOfText(text: unknown): Rule | undefined {
  return typeof text === "string" ? (JSON.parse(text) as Rule) : undefined;
}

function toVersion(item: Item): RuleVersion {
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

function versionItem(version: RuleVersion): Item {
  return {
    pk: versionPartition(version.ruleId),
    sk: versionSortKey(version.version),
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

/** `TransactionCanceledException` because a condition failed or another transaction held an item. */
function isConflict(error: unknown): boolean {
  if (!(error instanceof TransactionCanceledException)) return false;
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code);
  if (codes.length === 0) return /ConditionalCheckFailed|TransactionConflict/.test(error.message);
  return codes.some((code) => code === "ConditionalCheckFailed" || code === "TransactionConflict");
}

/**
 * The rules API's view of the rules table (`TABLES.rules`): rule items as `pia rules push`
 * writes them plus `version` and `updatedBy`, each rule id's history in its own partition, and the
 * counter key registry, every change written in one transaction. Rules written by `pia rules push`
 * carry no `version` (push rewrites whole items): such a state counts as one version more than
 * the last recorded one, recorded (`change: "push"`) by the next change made through the API.
 */
export function buildRuleStore(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly now?: () => number },
): RuleStore {
  const { tableName } = config;
  const now = config.now ?? Date.now;
  const source = `rules table ${tableName}`;

  async function queryAll(
    input: Omit<QueryCommandInput, "TableName" | "ExclusiveStartKey">,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          ConsistentRead: true,
          ...input,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  const byPartition = (pk: string) => ({
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": pk },
  });

  async function latestVersion(id: string): Promise<RuleVersion | undefined> {
    const output = await client.send(
      new QueryCommand({
        TableName: tableName,
        ...byPartition(versionPartition(id)),
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const [item] = output.Items ?? [];
    return item === undefined ? undefined : toVersion(item);
  }

  async function readRuleItem(id: string): Promise<Item | undefined> {
    const output = await client.send(
      new GetCommand({ TableName: tableName, Key: { pk: RULE_PARTITION, sk: id }, ConsistentRead: true }),
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
    const updatedAt = typeof item.updatedAt === "string" ? item.updatedAt : undefined;
    if (typeof item.version === "number") {
      return {
        stored: {
          rule,
          version: item.version,
          ...(updatedAt === undefined ? {} : { updatedAt }),
          ...(typeof item.updatedBy === "string" ? { updatedBy: item.updatedBy } : {}),
        },
        version: item.version,
        unrecorded: undefined,
        condition: {
          ConditionExpression: "#version = :version",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: { ":version": item.version },
        },
      };
    }
    const version = recorded + 1;
    return {
      stored: {
        rule,
        version,
        ...(updatedAt === undefined ? {} : { updatedAt }),
        updatedBy: OUTSIDE_AUTHOR,
      },
      version,
      unrecorded: {
        ruleId: id,
        version,
        change: "push",
        at: updatedAt ?? new Date(at).toISOString(),
        by: OUTSIDE_AUTHOR,
        ...(latest?.after === undefined ? {} : { before: latest.after }),
        after: rule,
      },
      // A push that changes the rule rewrites the item without `version`; one that does not leaves it.
      condition: {
        ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(#version) AND #rule = :rule",
        ExpressionAttributeNames: { "#version": "version", "#rule": "rule" },
        ExpressionAttributeValues: { ":rule": item.rule },
      },
    };
  }

  async function snapshot(id: string, at: number): Promise<Snapshot> {
    const [item, latest] = await Promise.all([readRuleItem(id), latestVersion(id)]);
    return describe(id, item, latest, at);
  }

  return {
    async list() {
      const items = await queryAll(byPartition(RULE_PARTITION));
      const rules = parseRuleItems(items, source);
      return Promise.all(
        items.map(async (item, index) => {
          const rule = rules[index];
          if (rule === undefined) throw new Error(`${source}: rule ${String(item.sk)} could not be read`);
          // Only rules pushed since their last recorded version need their history's last number.
          const latest = typeof item.version === "number" ? undefined : await latestVersion(rule.id);
          const stored = describe(rule.id, item, latest, now()).stored;
          if (stored === undefined) throw new Error(`${source}: rule ${rule.id} could not be read`);
          return stored;
        }),
      );
    },

    async get(id) {
      return (await snapshot(id, now())).stored;
    },

    async history(id) {
      const [item, items] = await Promise.all([
        readRuleItem(id),
        queryAll(byPartition(versionPartition(id))),
      ]);
      const versions = items.map(toVersion);
      const { unrecorded } = describe(id, item, versions.at(-1), now());
      return unrecorded === undefined ? versions : [...versions, unrecorded];
    },

    async version(id, version) {
      const output = await client.send(
        new GetCommand({
          TableName: tableName,
          Key: { pk: versionPartition(id), sk: versionSortKey(version) },
          ConsistentRead: true,
        }),
      );
      if (output.Item !== undefined) return toVersion(output.Item);
      const { unrecorded } = await snapshot(id, now());
      return unrecorded?.version === version ? unrecorded : undefined;
    },

    async change(id, decide, author) {
      const read = await snapshot(id, author.at);
      const change = decide(read.stored, read.version);
      if (change === undefined) return { stored: read.stored, version: read.version };
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
      const key = { pk: RULE_PARTITION, sk: id };
      if (change.after === undefined) {
        items.push({ Delete: { TableName: tableName, Key: key, ...read.condition } });
      } else {
        const item = {
          ...key,
          rule: canonicalRuleJson(change.after),
          counterKey: counterKey(change.after),
          updatedAt: at,
          updatedBy: author.by,
          version,
        };
        items.push({ Put: { TableName: tableName, Item: item, ...read.condition } });
      }
      // A version number is taken once: two writers that read the same state cannot both record it.
      for (const entry of [read.unrecorded, recorded]) {
        if (entry === undefined) continue;
        items.push({
          Put: {
            TableName: tableName,
            Item: versionItem(entry),
            ConditionExpression: "attribute_not_exists(pk)",
          },
        });
      }
      // As `pia rules push` does: every counter key a rule had is registered, so that the cleanup
      // finds the counters of edited and deleted rules.
      const keys = new Map<string, string>();
      for (const rule of [before, change.after]) if (rule !== undefined) keys.set(counterKey(rule), rule.id);
      for (const [registered, ruleId] of keys) {
        items.push({
          Put: { TableName: tableName, Item: { pk: COUNTER_KEY_PARTITION, sk: registered, ruleId } },
        });
      }
      try {
        await client.send(new TransactWriteCommand({ TransactItems: items }));
      } catch (error: unknown) {
        if (isConflict(error))
          throw new RuleVersionConflictError(id, read.version, undefined, { cause: error });
        throw error;
      }
      const stored =
        change.after === undefined
          ? undefined
          : { rule: change.after, version, updatedAt: at, updatedBy: author.by };
      return { stored, version };
    },
  };
}
