import type { StageReader, StageTableNames, StoredCounterState } from "@pia/aws";
import { compileRule, type Rule } from "@pia/core";
import { UsageError } from "./errors.js";
import { formatExplanation } from "./explain.js";

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

/**
 * `pia explain --stage`: one rule for one user from a deployed stage's tables. The rule comes from
 * the rules table; the replay of the user's stored events and the pipeline's stored state beside
 * it are @pia/aws's `explainStoredUser` (the rules API's `POST /rules/{id}/explain` gives the
 * same), printed as text.
 */
export async function explainStage(options: ExplainStageOptions): Promise<string> {
  const rule = options.rules.find((candidate) => candidate.id === options.ruleId);
  if (rule === undefined) {
    throw new UsageError(
      `--rule ${options.ruleId}: no such rule in ${options.tables.rules}; its rule ids are ${options.rules.map((r) => r.id).join(", ") || "(none)"}`,
    );
  }
  const { explainStoredUser, storedStateWords } = await import("@pia/aws");
  const result = await explainStoredUser(options.reader, rule, {
    userId: options.userId,
    appId: options.appId,
    now: options.now,
    ...(options.maxEvents === undefined ? {} : { maxEvents: options.maxEvents }),
  });
  const source = `the events table ${options.tables.events}`;
  const text = formatExplanation(result.explanation, {
    eventsFile: source,
    limit: options.limit,
    appId: options.appId,
  });
  const lines = [
    `replayed ${result.eventsRead} stored event${result.eventsRead === 1 ? "" : "s"} of the user from ${source}, in time order`,
  ];
  if (result.truncated) {
    lines.push(
      `  stopped after ${result.maxEvents} items (the limit): later-read events are missing from the replay`,
    );
  }
  if (result.unreadable > 0) lines.push(`  ${result.unreadable} items were not events and were left out`);
  lines.push(storedLine(rule, result.stored, options.tables.counters, storedStateWords));
  return `${text}\n${lines.join("\n")}\n`;
}

function storedLine(
  rule: Rule,
  stored: StoredCounterState | undefined,
  table: string,
  words: (stored: StoredCounterState) => string,
): string {
  if (stored === undefined) {
    return `pipeline state in ${table}: none (no event of this rule counted for the user since the rule, as it counts now, was pushed)`;
  }
  const scope = compileRule(rule).kind === "rolling" ? " (window totals)" : "";
  return `pipeline state in ${table}${scope}: ${words(stored)}`;
}
