import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DeleteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Rule, RuleIssue } from "@pia/core";
import { counterKey, validateRules } from "@pia/core";
import { chunk, retryUnprocessed } from "./retryUnprocessed.js";
import { InvalidStoredRulesError, validateStoredRules } from "./ruleSource.js";

/** What a push did: rules written (new or changed), deleted (no longer in the set), left as they were. */
export interface PushResult {
  readonly written: number;
  readonly deleted: number;
  readonly unchanged: number;
}

/** The rules table (`TABLES.rules`): the canonical rules, and every counter key ever pushed. */
export interface RulesTable {
  /**
   * Makes `rules` the whole rule set: writes new and changed rules, deletes the others, and
   * registers the counter key of every rule. Throws `InvalidRulesError` (nothing written) when the
   * rules are invalid, `RulesTableWriteError` when DynamoDB keeps refusing writes (push again).
   */
  put(rules: readonly Rule[]): Promise<PushResult>;
  /** Every rule, by id; throws `InvalidStoredRulesError` naming any item that is not a valid rule. */
  list(): Promise<Rule[]>;
  /** Deletes one rule; false when there was none with this id. Its counter key stays registered. */
  remove(id: string): Promise<boolean>;
  /** Every registered counter key, of current, edited and removed rules alike. */
  listCounterKeys(): Promise<{ counterKey: string; ruleId: string }[]>;
  /** Unregisters a counter key, once the cleanup has deleted its counters. */
  forgetCounterKey(counterKey: string): Promise<void>;
}

export interface RulesTableOptions {
  /** Epoch ms, stamped on written rules as `updatedAt` (tests inject a fixed clock). */
  readonly now?: () => number;
  /** BatchWriteItem requests per chunk of 25, the first included, before giving up (default 8). */
  readonly maxAttempts?: number;
  /** Backoff cap of the first retry of unprocessed items, ms; it doubles each retry (default 50). */
  readonly baseDelayMs?: number;
  /** Largest backoff cap, ms (default 2000). */
  readonly maxDelayMs?: number;
  /** Waits `ms` (tests inject a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter (tests inject a fixed one). */
  readonly random?: () => number;
}

/** Partition of the rule items: `{ pk, sk: rule id, rule: canonical JSON, counterKey, updatedAt }`. */
export const RULE_PARTITION = "rule";
/** Partition of the counter key registry: `{ pk, sk: counter key, ruleId }`. */
export const COUNTER_KEY_PARTITION = "counterKey";
/** BatchWriteItem's limit of requests per call. */
const BATCH_LIMIT = 25;

type WriteRequest = NonNullable<BatchWriteCommandInput["RequestItems"]>[string][number];

/** DynamoDB kept leaving writes unprocessed (throttling); what was written stays, a new push finishes. */
export class RulesTableWriteError extends Error {
  override readonly name = "RulesTableWriteError";
  constructor(
    readonly tableName: string,
    readonly unprocessed: number,
    attempts: number,
  ) {
    super(
      `rules table ${tableName}: ${unprocessed} write${unprocessed === 1 ? " was" : "s were"} still unprocessed after ${attempts} attempts (DynamoDB is throttling); push again: a push only writes what differs`,
    );
  }
}

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
    ...(window === undefined ? {} : { window: { from: window.from, to: window.to } }),
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
 * The rules of rule items (`{ sk: id, rule: canonical JSON }`), in item order, validated like a
 * rules file; throws `InvalidStoredRulesError` naming every item that is not a valid rule.
 */
export function parseRuleItems(items: readonly Record<string, unknown>[], source: string): Rule[] {
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

function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function buildRulesTable(
  client: DynamoDBDocumentClient,
  tableName: string,
  options: RulesTableOptions = {},
): RulesTable {
  const now = options.now ?? Date.now;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 8);
  const baseDelayMs = options.baseDelayMs ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? sleepFor;
  const random = options.random ?? Math.random;
  const source = `rules table ${tableName}`;

  /** Every item of one partition, page by page (strongly consistent: a push sees the last push). */
  async function queryAll(pk: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": pk },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  }

  /** Writes in chunks of 25, one chunk at a time, retrying unprocessed requests with backoff and jitter. */
  async function writeAll(requests: readonly WriteRequest[]): Promise<void> {
    for (const requestsChunk of chunk(requests, BATCH_LIMIT)) {
      const left = await retryUnprocessed(
        requestsChunk,
        async (pending) => {
          const output = await client.send(
            new BatchWriteCommand({ RequestItems: { [tableName]: [...pending] } }),
          );
          return output.UnprocessedItems?.[tableName] ?? [];
        },
        { maxAttempts, baseDelayMs, maxDelayMs, sleep, random },
      );
      if (left.length > 0) throw new RulesTableWriteError(tableName, left.length, maxAttempts);
    }
  }

  return {
    async put(rules) {
      const valid = validateRules(rules, undefined, "rules to push").rules;
      const [stored, registered] = await Promise.all([
        queryAll(RULE_PARTITION),
        queryAll(COUNTER_KEY_PARTITION),
      ]);
      const storedById = new Map(stored.map((item) => [String(item.sk), item]));
      const known = new Set(registered.map((item) => String(item.sk)));
      const updatedAt = new Date(now()).toISOString();
      const registrations: WriteRequest[] = [];
      const writes: WriteRequest[] = [];
      for (const rule of valid) {
        const json = canonicalRuleJson(rule);
        const key = counterKey(rule);
        const old = storedById.get(rule.id);
        if (old?.rule !== json || old.counterKey !== key) {
          writes.push({
            PutRequest: { Item: { pk: RULE_PARTITION, sk: rule.id, rule: json, counterKey: key, updatedAt } },
          });
        }
        if (!known.has(key)) {
          registrations.push({
            PutRequest: { Item: { pk: COUNTER_KEY_PARTITION, sk: key, ruleId: rule.id } },
          });
        }
      }
      const ids = new Set(valid.map((rule) => rule.id));
      const deletes: WriteRequest[] = [...storedById.keys()]
        .filter((id) => !ids.has(id))
        .map((id) => ({ DeleteRequest: { Key: { pk: RULE_PARTITION, sk: id } } }));
      // Keys first: a push cut short must never leave counters that the cleanup cannot find.
      await writeAll(registrations);
      await writeAll([...writes, ...deletes]);
      return { written: writes.length, deleted: deletes.length, unchanged: valid.length - writes.length };
    },

    async list() {
      return parseRuleItems(await queryAll(RULE_PARTITION), source);
    },

    async remove(id) {
      const output = await client.send(
        new DeleteCommand({
          TableName: tableName,
          Key: { pk: RULE_PARTITION, sk: id },
          ReturnValues: "ALL_OLD",
        }),
      );
      return output.Attributes !== undefined;
    },

    async listCounterKeys() {
      return (await queryAll(COUNTER_KEY_PARTITION)).map((item) => {
        const key = String(item.sk);
        // Every key is `<rule id>#<fingerprint>`: the id can be recovered if the attribute is lost.
        const ruleId = typeof item.ruleId === "string" ? item.ruleId : key.slice(0, key.lastIndexOf("#"));
        return { counterKey: key, ruleId };
      });
    },

    async forgetCounterKey(key) {
      await client.send(
        new DeleteCommand({ TableName: tableName, Key: { pk: COUNTER_KEY_PARTITION, sk: key } }),
      );
    },
  };
}

/** Where `openRulesTable` connects. */
export interface RulesTableTarget {
  readonly tableName: string;
  readonly region: string;
  /** Overrides the endpoint; without it the SDK honours `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`. */
  readonly endpoint?: string;
}

/** A rules table over a new DynamoDB client with the default credential chain (for the CLI). */
export function openRulesTable(target: RulesTableTarget, options: RulesTableOptions = {}): RulesTable {
  const client = new DynamoDBClient({
    region: target.region,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
  });
  return buildRulesTable(DynamoDBDocumentClient.from(client), target.tableName, options);
}
