import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchWriteCommand,
  type BatchWriteCommandInput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import type { Rule } from "@pia/core";
import { counterKey, isRollingWindow, validateRules } from "@pia/core";
import type { BackfillMode } from "../backfill.js";
import { chunk, retryUnprocessed } from "../retryUnprocessed.js";
import type { RuleSet } from "../ruleSource.js";
import {
  ABSENT,
  atRev,
  type BackfillJob,
  backfillItem,
  backfillJobOf,
  backfillKey,
  CLAIMABLE,
  canonicalRuleJson,
  claimItem,
  counterKeyItem,
  counterKeyKey,
  counterKeyOfItem,
  decidedItem,
  decidedKey,
  type Item,
  isDecided,
  newBackfillJob,
  ownedBy,
  PARTITIONS,
  parseRuleItems,
  partitionQuery,
  ruleItem,
  ruleItemFacts,
  ruleKey,
} from "./items.js";
import { buildVersionedRules, type VersionedRules } from "./versionedRules.js";

// Requested by a push here and by the rules API (versionedRules.ts): one definition, beside the job.
export { newBackfillJob } from "./items.js";

/** What a push did: rules written (new or changed), deleted (no longer in the set), left as they were. */
export interface PushResult {
  readonly written: number;
  readonly deleted: number;
  readonly unchanged: number;
  /** With `PutOptions.backfill`: what became of each written rule's backfill, by rule id. */
  readonly backfill?: BackfillRequests;
}

/** The rules a push asked to backfill, by outcome. */
export interface BackfillRequests {
  /** A new counting: its backfill job is stored (or was already, from an earlier push). */
  readonly requested: string[];
  /** The counting was registered before (its counters already count): nothing to backfill. */
  readonly alreadyCounting: string[];
  /** Rolling windows are not backfilled (docs/rules.md section 9). */
  readonly notSupported: string[];
}

export interface PutOptions {
  /** Backfills every written rule whose counting is new, from the stored events. */
  readonly backfill?: { readonly mode: BackfillMode; readonly requestedBy?: string };
}

/** The backfill jobs (docs/rules.md section 9), read and saved by the timeseries job. */
export interface BackfillJobs {
  list(): Promise<BackfillJob[]>;
  get(counterKey: string): Promise<BackfillJob | undefined>;
  /** Stores `job` only if the stored one is still at `job.rev - 1`; false when another run moved it. */
  save(job: BackfillJob): Promise<boolean>;
  /** Stores a new job unless one exists for its counting; false when one did. */
  create(job: BackfillJob): Promise<boolean>;
  remove(counterKey: string): Promise<void>;
}

/** What `ClosingDecisions.claim` found: the decision is now the caller's, made already, or another run's. */
export type ClaimOutcome = "claimed" | "decided" | "busy";

/** One scheduled run: who it is (unique per invocation) and when it ends at the latest (epoch ms). */
export interface ScheduleRun {
  readonly id: string;
  readonly deadline: number;
}

/**
 * Closing decisions by counter key (timeseries decides a closing rule once). A run claims a rule
 * before deciding it, so that overlapping runs never decide the same rule at once; a claim lasts
 * until the run's deadline, so a run that dies leaves the rule to the next. Every change is a
 * conditional write, so two runs never both hold a claim, and only the holder records.
 */
export interface ClosingDecisions {
  /** Claims the decision for `run` unless it was made, or another run's claim lasts past `now`. */
  claim(counterKey: string, run: ScheduleRun, now: number): Promise<ClaimOutcome>;
  /** Records the decision, only if `run` still holds the claim; false when it lost it. */
  record(counterKey: string, run: ScheduleRun, decidedAt: number): Promise<boolean>;
  /** Gives a claim up (a run that failed part-way), so that the next run need not wait for it. */
  release(counterKey: string, run: ScheduleRun): Promise<void>;
  forget(counterKey: string): Promise<void>;
}

/**
 * The rules table (`TABLES.rules`), and the only code that reads or writes it: the canonical
 * rules, their versions (the rules API), every counter key ever pushed, and the closing decisions.
 */
export interface RulesTable {
  /**
   * Makes `rules` the whole rule set: writes new and changed rules, deletes the others, and
   * registers the counter key of every rule. Throws `InvalidRulesError` (nothing written) when the
   * rules are invalid, `RulesTableWriteError` when DynamoDB keeps refusing writes (push again).
   */
  put(rules: readonly Rule[], options?: PutOptions): Promise<PushResult>;
  /** Every rule, by id; throws `InvalidStoredRulesError` naming any item that is not a valid rule. */
  list(): Promise<Rule[]>;
  /**
   * Every rule and the backfill of each counting, read in that order (strongly consistent): a
   * backfill is stored before its rule, so whoever sees the rule sees its backfill.
   */
  listRuleSet(): Promise<RuleSet>;
  readonly backfills: BackfillJobs;
  /** Deletes one rule; false when there was none with this id. Its counter key stays registered. */
  remove(id: string): Promise<boolean>;
  /** Every registered counter key, of current, edited and removed rules alike. */
  listCounterKeys(): Promise<{ counterKey: string; ruleId: string }[]>;
  /** Unregisters a counter key, once the cleanup has deleted its counters. */
  forgetCounterKey(counterKey: string): Promise<void>;
  /** The closing decisions made (timeseries). */
  readonly decisions: ClosingDecisions;
  /** The rules with their versions and history, changed one transaction at a time (the rules API). */
  readonly versioned: VersionedRules;
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

/** BatchWriteItem's limit of requests per call. */
const BATCH_LIMIT = 25;

type WriteRequest = NonNullable<BatchWriteCommandInput["RequestItems"]>[string][number];

/** Runs a conditional write; false when its condition failed. */
async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error: unknown) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

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
  async function queryAll(pk: string): Promise<Item[]> {
    const items: Item[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          ...partitionQuery(pk),
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

  const backfills: BackfillJobs = {
    async list() {
      return (await queryAll(PARTITIONS.backfills)).map(backfillJobOf);
    },
    async get(key) {
      const output = await client.send(
        new GetCommand({ TableName: tableName, Key: backfillKey(key), ConsistentRead: true }),
      );
      return output.Item === undefined ? undefined : backfillJobOf(output.Item);
    },
    async save(job) {
      return conditionally(() =>
        client.send(new PutCommand({ TableName: tableName, Item: backfillItem(job), ...atRev(job.rev - 1) })),
      );
    },
    async create(job) {
      return conditionally(() =>
        client.send(new PutCommand({ TableName: tableName, Item: backfillItem(job), ...ABSENT })),
      );
    },
    async remove(key) {
      await client.send(new DeleteCommand({ TableName: tableName, Key: backfillKey(key) }));
    },
  };

  return {
    async put(rules, options = {}) {
      // Every writer of the rule set comes here (push, pia local and its --ui): the pipeline runs
      // every valid rule, rolling windows included.
      const valid = validateRules(rules, undefined, "rules to push").rules;
      const [stored, registered] = await Promise.all([
        queryAll(PARTITIONS.rules),
        queryAll(PARTITIONS.counterKeys),
      ]);
      const storedById = new Map(stored.map((item) => [String(item.sk), ruleItemFacts(item)]));
      const known = new Set(registered.map((item) => counterKeyOfItem(item).counterKey));
      const updatedAt = new Date(now()).toISOString();
      const registrations: WriteRequest[] = [];
      const writes: WriteRequest[] = [];
      const backfill: BackfillRequests = { requested: [], alreadyCounting: [], notSupported: [] };
      const jobs: BackfillJob[] = [];
      for (const rule of valid) {
        const key = counterKey(rule);
        const old = storedById.get(rule.id);
        if (old?.text !== canonicalRuleJson(rule) || old.counterKey !== key) {
          writes.push({ PutRequest: { Item: ruleItem(rule, { updatedAt }) } });
          if (options.backfill !== undefined) {
            if (rule.window !== undefined && isRollingWindow(rule.window))
              backfill.notSupported.push(rule.id);
            else if (known.has(key)) backfill.alreadyCounting.push(rule.id);
            else {
              backfill.requested.push(rule.id);
              jobs.push(newBackfillJob(key, rule.id, options.backfill, now()));
            }
          }
        }
        if (!known.has(key)) registrations.push({ PutRequest: { Item: counterKeyItem(key, rule.id) } });
      }
      const ids = new Set(valid.map((rule) => rule.id));
      const deletes: WriteRequest[] = [...storedById.keys()]
        .filter((id) => !ids.has(id))
        .map((id) => ({ DeleteRequest: { Key: ruleKey(id) } }));
      // Backfills before their rules: whoever sees a rule sees its backfill (listRuleSet). An
      // existing job of the same counting is left as it is (a push again does not restart it).
      for (const job of jobs) await backfills.create(job);
      // Keys first: a push cut short must never leave counters that the cleanup cannot find.
      await writeAll(registrations);
      await writeAll([...writes, ...deletes]);
      return {
        written: writes.length,
        deleted: deletes.length,
        unchanged: valid.length - writes.length,
        ...(options.backfill === undefined ? {} : { backfill }),
      };
    },

    async listRuleSet() {
      // Rules first, then backfills: see `put`.
      const rules = parseRuleItems(await queryAll(PARTITIONS.rules), source);
      const jobs = (await queryAll(PARTITIONS.backfills)).map(backfillJobOf);
      return {
        rules,
        backfills: new Map(
          jobs.map((job) => [
            job.counterKey,
            { boundary: job.boundary, settledAt: job.settledAt, mode: job.mode },
          ]),
        ),
      };
    },

    backfills,

    async list() {
      return parseRuleItems(await queryAll(PARTITIONS.rules), source);
    },

    async remove(id) {
      const output = await client.send(
        new DeleteCommand({ TableName: tableName, Key: ruleKey(id), ReturnValues: "ALL_OLD" }),
      );
      return output.Attributes !== undefined;
    },

    async listCounterKeys() {
      return (await queryAll(PARTITIONS.counterKeys)).map(counterKeyOfItem);
    },

    async forgetCounterKey(key) {
      await client.send(new DeleteCommand({ TableName: tableName, Key: counterKeyKey(key) }));
    },

    decisions: {
      async claim(key, run, now) {
        const claimed = await conditionally(() =>
          client.send(
            new PutCommand({
              TableName: tableName,
              Item: claimItem(key, run.id, run.deadline),
              ...CLAIMABLE,
              ExpressionAttributeValues: { ":now": now },
            }),
          ),
        );
        if (claimed) return "claimed";
        const output = await client.send(
          new GetCommand({ TableName: tableName, Key: decidedKey(key), ConsistentRead: true }),
        );
        return isDecided(output.Item) ? "decided" : "busy";
      },
      async record(key, run, decidedAt) {
        return conditionally(() =>
          client.send(
            new PutCommand({ TableName: tableName, Item: decidedItem(key, decidedAt), ...ownedBy(run.id) }),
          ),
        );
      },
      async release(key, run) {
        await conditionally(() =>
          client.send(new DeleteCommand({ TableName: tableName, Key: decidedKey(key), ...ownedBy(run.id) })),
        );
      },
      async forget(key) {
        await client.send(new DeleteCommand({ TableName: tableName, Key: decidedKey(key) }));
      },
    },

    versioned: buildVersionedRules(client, tableName, { now, queryAll }),
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
