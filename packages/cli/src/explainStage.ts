import type { StageReader, StageTableNames } from "@pia/aws";
import { compileRule, counterKey, type Rule, RuleExplainer } from "@pia/core";
import { UsageError } from "./errors.js";
import { formatExplanation } from "./explain.js";

/** Most events `pia explain --stage` reads for one user: the events table is customer data. */
export const MAX_EXPLAIN_EVENTS = 100_000;

export interface ExplainStageOptions {
  readonly rules: readonly Rule[];
  readonly tables: StageTableNames;
  readonly reader: StageReader;
  readonly ruleId: string;
  readonly userId: string;
  readonly appId: string;
  readonly now: number;
  readonly limit: number;
  readonly maxEvents?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * `pia explain --stage`: one rule for one user from a deployed stage's tables. The rule comes from
 * the rules table; the user's stored events (the events table keeps them for its retention) are
 * replayed through the engine `pia simulate` runs, in time order; and the pipeline's own stored
 * state of the rule for the user is printed beside it, so a difference shows (a lifetime rule counts
 * in the pipeline only from its push; the replay counts every stored event).
 */
export async function explainStage(options: ExplainStageOptions): Promise<string> {
  const rule = options.rules.find((candidate) => candidate.id === options.ruleId);
  if (rule === undefined) {
    throw new UsageError(
      `--rule ${options.ruleId}: no such rule in ${options.tables.rules}; its rule ids are ${options.rules.map((r) => r.id).join(", ") || "(none)"}`,
    );
  }
  const maxEvents = options.maxEvents ?? MAX_EXPLAIN_EVENTS;
  const read = await options.reader.userEvents(options.appId, options.userId, maxEvents);
  // The pipeline applies events in arrival order, which the table does not keep: time order (then
  // identity) is the replay's, the order in which the events happened.
  const events = [...read.events].sort(
    (a, b) => a.timestamp - b.timestamp || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0),
  );
  const explainer = new RuleExplainer(rule, options.userId, { appId: options.appId });
  for (const event of events) explainer.apply(event);
  const source = `the events table ${options.tables.events}`;
  const text = formatExplanation(explainer.explain(options.now), {
    eventsFile: source,
    limit: options.limit,
    appId: options.appId,
  });
  const lines = [
    `replayed ${read.events.length} stored event${read.events.length === 1 ? "" : "s"} of the user from ${source}, in time order`,
  ];
  if (read.truncated) {
    lines.push(
      `  stopped after ${maxEvents} items (the limit): later-read events are missing from the replay`,
    );
  }
  if (read.unreadable > 0) lines.push(`  ${read.unreadable} items were not events and were left out`);
  const key = counterKey(rule);
  const stored = await options.reader.storedCounter(options.appId, options.userId, key);
  lines.push(...storedLines(rule, stored, options.tables.counters));
  return `${text}\n${lines.join("\n")}\n`;
}

function storedLines(rule: Rule, stored: Record<string, unknown> | undefined, table: string): string[] {
  if (stored === undefined) {
    return [
      `pipeline state in ${table}: none (no event of this rule counted for the user since the rule, as it counts now, was pushed)`,
    ];
  }
  const facts: string[] = [];
  const field = (name: string) => stored[name];
  if (typeof field("count") === "number") facts.push(`count ${field("count")}`);
  if (typeof field("sum") === "string") facts.push(`sum ${field("sum")}`);
  if (typeof field("fired") === "boolean") facts.push(field("fired") === true ? "fired" : "not fired");
  if (typeof field("in") === "boolean") facts.push(field("in") === true ? "inside" : "outside");
  if (typeof field("notified") === "number") facts.push(`notifications ${field("notified")}`);
  if (typeof field("w") === "number") facts.push(`evaluated up to ${iso(field("w") as number)}`);
  if (typeof field("dueAt") === "number") facts.push(`next expiry ${iso(field("dueAt") as number)}`);
  const pending = field("pending");
  if (Array.isArray(pending) && pending.length > 0)
    facts.push(`${pending.length} notifications not yet confirmed sent`);
  const scope = compileRule(rule).kind === "rolling" ? " (window totals)" : "";
  return [`pipeline state in ${table}${scope}: ${facts.join(", ") || "(no known fields)"}`];
}
