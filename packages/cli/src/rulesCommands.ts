import type {
  BackfillJob,
  BackfillMode,
  BackfillRequests,
  HoneycodeRows,
  HoneycodeTable,
  PutOptions,
  RulesTable,
  RulesTableTarget,
} from "@pia/aws";
import type { LoadedRules, Rule } from "@pia/core";
import { formatIssue, InvalidRulesError, isRollingWindow } from "@pia/core";
import { loadRulesFile } from "./loadRulesFile.js";
import { RulesTableError, toRulesTableError } from "./RulesTableError.js";
import type { Env } from "./resolveRulesTarget.js";

/** What the `pia rules` commands need of the rules table. */
export type RulesStore = Pick<RulesTable, "put" | "list" | "remove"> & {
  readonly backfills: Pick<RulesTable["backfills"], "list">;
};

/**
 * Opens the store of a table (`openRulesTable` in production, loaded on first use so that the
 * other commands do not pay for the AWS SDK; tests pass a fake).
 */
export type OpenRulesStore = (target: RulesTableTarget) => Promise<RulesStore>;

export interface Output {
  write(text: string): unknown;
}

export interface RulesCommandContext {
  readonly target: RulesTableTarget;
  readonly openStore: OpenRulesStore;
  readonly env: Env;
  readonly stdout: Output;
  readonly stderr: Output;
}

/**
 * Runs one call on the table. Invalid rules to push stay `InvalidRulesError` (exit 2); a corrupted
 * stored rule (`InvalidStoredRulesError`, whose message names it) and what AWS throws become a
 * `RulesTableError` (exit 1), the latter with a hint.
 */
export async function onRulesTable<T>(
  context: RulesCommandContext,
  call: (store: RulesStore) => Promise<T>,
): Promise<T> {
  try {
    return await call(await context.openStore(context.target));
  } catch (error: unknown) {
    if (error instanceof InvalidRulesError) throw error;
    if (error instanceof Error && error.name === "InvalidStoredRulesError") {
      throw new RulesTableError(error.message, { cause: error });
    }
    throw toRulesTableError(error, context.target, context.env);
  }
}

/** Makes validated rules the table's rule set, after printing their warnings. */
async function writeRules(
  loaded: LoadedRules,
  source: string,
  context: RulesCommandContext,
  options: PutOptions = {},
): Promise<void> {
  for (const warning of loaded.warnings) context.stderr.write(`${formatIssue(warning, source)}\n`);
  const result = await onRulesTable(context, (store) => store.put(loaded.rules, options));
  context.stdout.write(
    `written ${result.written}, deleted ${result.deleted}, unchanged ${result.unchanged}\n`,
  );
  if (result.backfill !== undefined) context.stdout.write(formatBackfillRequests(result.backfill));
}

/**
 * `pia rules push FILE [--backfill [notify|silent]]`: validates the whole file first (an invalid
 * file, or one with a rule the pipeline does not run, throws `InvalidRulesError` before the table is
 * opened), then makes it the table's rule set. With `backfill`, each written rule whose counting is
 * new is counted from the stored events too (docs/rules.md section 9), by the timeseries job.
 */
export async function pushRules(
  file: string,
  context: RulesCommandContext,
  options: { readonly backfill?: BackfillMode } = {},
): Promise<void> {
  const put: PutOptions = options.backfill === undefined ? {} : { backfill: { mode: options.backfill } };
  await writeRules(await loadRulesFile(file), file, context, put);
}

/** One line per rule a push asked to backfill, saying what became of it. */
export function formatBackfillRequests(requests: BackfillRequests): string {
  const lines = [
    ...requests.requested.map((id) => `backfill ${id}: requested (pia rules status shows its progress)`),
    ...requests.alreadyCounting.map((id) => `backfill ${id}: already counting: nothing to backfill`),
    ...requests.notSupported.map((id) => `backfill ${id}: rolling windows are not backfilled`),
  ];
  if (lines.length === 0) return "backfill: no rule written, nothing to backfill\n";
  return lines.map((line) => `${line}\n`).join("");
}

/** `pia rules status`: one line per backfill job of the table, oldest request first. */
export async function backfillStatus(context: RulesCommandContext): Promise<void> {
  const jobs = await onRulesTable(context, (store) => store.backfills.list());
  if (jobs.length === 0) {
    context.stderr.write(`no backfills in table ${context.target.tableName}\n`);
    return;
  }
  const sorted = [...jobs].sort((a, b) => a.requestedAt - b.requestedAt || compareText(a.ruleId, b.ruleId));
  context.stdout.write(sorted.map((job) => `${formatBackfillJob(job)}\n`).join(""));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const iso = (at: number | undefined) => (at === undefined ? "-" : new Date(at).toISOString());

/**
 * A backfill job in one line: rule id, state, mode, boundary and settledAt, days read, users
 * merged, events read, notifications, and when it was requested and finished.
 */
export function formatBackfillJob(job: BackfillJob): string {
  const { progress } = job;
  return [
    job.ruleId,
    job.state,
    job.mode,
    `boundary ${iso(job.boundary)}`,
    `settledAt ${iso(job.settledAt)}`,
    `days ${progress.days}/${progress.daysTotal}`,
    `users ${progress.merged}`,
    `events ${progress.eventsRead}`,
    `notifications ${progress.notifications}`,
    `requested ${iso(job.requestedAt)}`,
    `finished ${iso(job.finishedAt)}`,
  ].join("  ");
}

/** Opens the rows of Honeycode tables in a region (`openHoneycodeRows` in production; tests pass a fake). */
export type OpenHoneycodeRows = (region: string) => Promise<HoneycodeRows>;

export interface HoneycodeImport extends HoneycodeTable {
  readonly region: string;
  readonly openRows: OpenHoneycodeRows;
  /** Validate and print what would be written, without opening the rules table. */
  readonly dryRun: boolean;
}

/**
 * `pia rules import --honeycode`: reads every row of a Honeycode table and makes its rules the rules
 * table's rule set, exactly as `push` does with a file. An invalid or empty Honeycode table writes
 * nothing (exit 2): an empty one would otherwise delete every rule, which a table that failed to
 * read properly must never do. A table that cannot be read is a `HoneycodeReadError` (exit 1).
 */
export async function importHoneycodeRules(
  from: HoneycodeImport,
  context: RulesCommandContext,
): Promise<void> {
  const { loadHoneycodeRules } = await import("@pia/aws");
  const table = { workbookId: from.workbookId, tableId: from.tableId };
  const source = `Honeycode table ${table.tableId} (workbook ${table.workbookId})`;
  const loaded = await loadHoneycodeRules(await from.openRows(from.region), table);
  if (loaded.rules.length === 0) {
    throw new InvalidRulesError(
      [
        {
          severity: "error",
          message:
            "the table has no rule rows, and importing it would delete every rule of the rules table; nothing written (pia rules rm removes rules one by one)",
        },
      ],
      source,
    );
  }
  if (!from.dryRun) {
    await writeRules(loaded, source, context);
    return;
  }
  for (const warning of loaded.warnings) context.stderr.write(`${formatIssue(warning, source)}\n`);
  context.stdout.write(formatRulesTable(loaded.rules));
  const count = `${loaded.rules.length} rule${loaded.rules.length === 1 ? "" : "s"}`;
  context.stdout.write(
    `dry run: these ${count} would become the rule set of table ${context.target.tableName} (rules not listed would be deleted); nothing written\n`,
  );
}

/** `pia rules list`: a table for people, or (`json`) canonical rules that `push` accepts back. */
export async function listRules(
  context: RulesCommandContext,
  options: { readonly json: boolean },
): Promise<void> {
  const rules = await onRulesTable(context, (store) => store.list());
  if (options.json) {
    context.stdout.write(`${JSON.stringify(rules, null, 2)}\n`);
    return;
  }
  if (rules.length === 0) {
    context.stderr.write(`no rules in table ${context.target.tableName}\n`);
    return;
  }
  context.stdout.write(formatRulesTable(rules));
}

/** `pia rules rm ID`: a missing id is an error (exit 1), so a typo does not pass for success. */
export async function removeRule(id: string, context: RulesCommandContext): Promise<void> {
  const removed = await onRulesTable(context, (store) => store.remove(id));
  const { tableName, region } = context.target;
  if (!removed) {
    throw new RulesTableError(
      `no rule ${JSON.stringify(id)} in table ${tableName} (region ${region}); nothing removed. The ids are listed by: pia rules list --table ${tableName}`,
    );
  }
  context.stdout.write(`removed rule ${JSON.stringify(id)} from ${tableName}\n`);
}

function describeEvent(rule: Rule): string {
  const filters = Object.entries(rule.where ?? {}).map(([name, value]) => `${name}=${value}`);
  return filters.length === 0 ? rule.event : `${rule.event} (${filters.join(", ")})`;
}

function describeCondition(rule: Rule): string {
  const parts: string[] = [];
  if (rule.count !== undefined) parts.push(`count ${rule.count.op} ${rule.count.value}`);
  if (rule.sum !== undefined)
    parts.push(`sum(${rule.sum.metric ?? "first metric"}) ${rule.sum.op} ${rule.sum.value}`);
  return parts.join(" and ");
}

function describeWindow(rule: Rule): string {
  const { window } = rule;
  if (isRollingWindow(window)) return `last ${window.last}${rule.reset ? ", reset" : ""}`;
  if (window !== undefined) return `${window.from}..${window.to}`;
  return rule.reset ? "lifetime, reset" : "lifetime";
}

function describeAction(rule: Rule): string {
  const action =
    rule.action.type === "attribute"
      ? `attribute ${rule.action.name}=${rule.action.value}`
      : `event ${rule.action.name}`;
  return rule.enabled ? action : `${action} (disabled)`;
}

/** Aligned columns: id, event (and filter), condition, window, action. */
export function formatRulesTable(rules: readonly Rule[]): string {
  const rows = [
    ["ID", "EVENT", "CONDITION", "WINDOW", "ACTION"],
    ...rules.map((rule) => [
      rule.id,
      describeEvent(rule),
      describeCondition(rule),
      describeWindow(rule),
      describeAction(rule),
    ]),
  ];
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join("  "),
    )
    .map((line) => `${line}\n`)
    .join("");
}
