import {
  type AppExplanation,
  type EventMapping,
  formatIssue,
  type InputFormat,
  RuleExplainer,
  type RuleExplanation,
  recordReader,
  totalsScopeWords,
  verdictWords,
} from "@pia/core";
import { UsageError } from "./errors.js";
import { loadRulesFile } from "./loadRulesFile.js";
import { readLines } from "./readLines.js";

export interface ExplainOptions {
  readonly rulesFile: string;
  /** Where the events came from, as the text names it (a file, or a stage's events table). */
  readonly eventsFile: string;
  readonly ruleId: string;
  readonly userId: string;
  readonly appId?: string;
  readonly format?: InputFormat;
  readonly mapping?: EventMapping;
  /** Clock for closing and rolling rules, epoch ms, as `pia simulate --now`. */
  readonly now: number;
  /** How many counted events to list per app (newest first). */
  readonly limit: number;
  readonly stderr: NodeJS.WritableStream;
}

/**
 * `pia explain`: one rule for one user, read as `pia simulate` reads (same reader, blank lines and
 * over-long records alike) and decided by the same engine; returns the text to print.
 */
export async function explain(options: ExplainOptions): Promise<string> {
  const { rules, warnings } = await loadRulesFile(options.rulesFile);
  for (const warning of warnings) options.stderr.write(`${formatIssue(warning, options.rulesFile)}\n`);
  const rule = rules.find((candidate) => candidate.id === options.ruleId);
  if (rule === undefined) {
    throw new UsageError(
      `--rule ${options.ruleId}: no such rule in ${options.rulesFile}; its rule ids are ${rules.map((r) => r.id).join(", ") || "(none)"}`,
    );
  }
  const reader = recordReader({
    format: options.format ?? "auto",
    ...(options.mapping === undefined ? {} : { mapping: options.mapping }),
  });
  const explainer = new RuleExplainer(rule, options.userId, {
    reader,
    ...(options.appId === undefined ? {} : { appId: options.appId }),
  });
  for await (const line of readLines(options.eventsFile)) {
    if (typeof line !== "string") explainer.skipUnread("too_large");
    else if (line.trim() !== "") explainer.ingest(line);
  }
  return formatExplanation(explainer.explain(options.now), options);
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The explanation as text: a header for the rule, then one block per app. */
export function formatExplanation(
  explanation: RuleExplanation,
  options: Pick<ExplainOptions, "eventsFile" | "limit" | "appId">,
): string {
  const { rule, userId, now } = explanation;
  const lines = [`rule ${rule.id}: ${explanation.words}`, `  then ${explanation.action}`];
  if (!rule.enabled) lines.push("  disabled: pia simulate skips it; explained here as if enabled");
  lines.push(`user ${userId}, now ${iso(now)}`);
  if (explanation.closesAt !== undefined) {
    lines.push(
      now >= explanation.closesAt
        ? `window closed at ${iso(explanation.closesAt)}: decided once, on the window's totals`
        : `window closes at ${iso(explanation.closesAt)}: not decided yet at now`,
    );
  }
  if (explanation.apps.length === 0) {
    const where = options.appId === undefined ? "" : ` in app ${options.appId}`;
    lines.push(`user ${userId} has no events${where} in ${options.eventsFile}`);
    return `${lines.join("\n")}\n`;
  }
  for (const app of explanation.apps) lines.push("", ...appBlock(explanation, app, options.limit));
  return `${lines.join("\n")}\n`;
}

function appBlock(explanation: RuleExplanation, app: AppExplanation, limit: number): string[] {
  const { rule } = explanation;
  const lines = [`app ${app.appId === "" ? '"" (no app id)' : app.appId}`];
  const words = totalsScopeWords(explanation);
  const scope = words === "" ? "" : ` ${words}`;
  lines.push(`  totals${scope}: count ${app.count}, sum ${app.sum}`);
  if (app.window !== undefined)
    lines.push(`  window: ${iso(app.window.start)} (excluded) to ${iso(app.window.end)}`);
  const verdict = verdictWords(app);
  lines.push(`  condition ${explanation.condition}: ${verdict}`);
  if (app.notifications.length === 0) lines.push("  fired: never");
  else {
    lines.push(
      `  fired: ${app.notifications.length} notification${app.notifications.length === 1 ? "" : "s"}`,
    );
    for (const notification of app.notifications) {
      const rolling =
        notification.seq === undefined
          ? ""
          : ` seq ${notification.seq} ${notification.value === "" ? "exit" : "entry"}`;
      const value =
        notification.value === undefined
          ? ""
          : ` ${notification.name} = ${JSON.stringify(notification.value)}`;
      lines.push(
        `    ${notification.at}${rolling}${notification.type === "event" ? ` event ${notification.name}` : value}`,
      );
    }
  }
  const shown = app.events.slice(0, limit);
  const more = app.events.length > shown.length ? `, newest ${shown.length} shown` : "";
  lines.push(`  events that counted: ${app.events.length}${more}`);
  const metricName = rule.sum?.metric ?? "metric";
  for (const event of shown) {
    lines.push(`    ${iso(event.at)}  ${event.identity}  ${metricName} ${event.metric ?? "-"}`);
  }
  return lines;
}
