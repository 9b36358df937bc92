import { CSV_COLUMNS, NO_DATE, OPERATOR_WORDS, tableAction } from "./parseRuleRows.js";
import { isRollingWindow, type Operator, type Rule } from "./rule.js";
import { escapeFormula } from "./spreadsheetText.js";

/** The table's word of each operator it has (the first word `parseRuleRows` reads as it). */
const WORD_OF_OPERATOR: ReadonlyMap<Operator, string> = new Map(
  Object.entries(OPERATOR_WORDS)
    .reverse()
    .flatMap(([word, op]) => (op === null ? [] : [[op, word] as const])),
);

/** A rule as a row of the 12-column table (13 cells, MetricName included), or why the table cannot say it. */
export function ruleRowOf(rule: Rule): { readonly cells: readonly string[] } | { readonly reason: string } {
  const { window } = rule;
  if (isRollingWindow(window)) {
    return { reason: `it has a rolling window (last ${window.last}), which the table has no column for` };
  }
  const where = Object.entries(rule.where ?? {});
  if (where.length > 1) return { reason: "it has more than one attribute filter" };
  const [filter] = where;
  if (filter !== undefined && (filter[0].toLowerCase() === "na" || filter[0] === "" || filter[1] === "")) {
    return { reason: "its attribute filter cannot be written in the table" };
  }
  const word = (condition: { readonly op: Operator } | undefined) =>
    condition === undefined ? "na" : WORD_OF_OPERATOR.get(condition.op);
  const [countWord, sumWord] = [word(rule.count), word(rule.sum)];
  if (countWord === undefined || sumWord === undefined) {
    return { reason: "it uses >= or <=, which the table has no words for" };
  }
  if (rule.sum?.metric?.toLowerCase() === "na") return { reason: 'its metric is named "na"' };
  const { action } = rule;
  if (action.sink !== undefined) {
    return { reason: `it sends to the ${action.sink} sink, which the table cannot say` };
  }
  const dated = window !== undefined;
  const derived = tableAction({ dated, event: rule.event, filterValue: filter?.[1], reset: rule.reset });
  const value = (a: typeof action) => (a.type === "attribute" ? a.value : undefined);
  if (action.type !== derived.type || action.name !== derived.name || value(action) !== value(derived)) {
    return {
      reason: `its action (${action.type} ${action.name}) is not the one the table derives (${derived.type} ${derived.name})`,
    };
  }
  const cells = [
    dated ? "date" : "aggregator",
    rule.event,
    filter?.[0] ?? "na",
    filter?.[1] ?? "999",
    countWord,
    rule.count === undefined ? "999" : String(rule.count.value),
    sumWord,
    rule.sum === undefined ? "999" : String(rule.sum.value),
    rule.reset ? "yes" : "no",
    window?.from ?? NO_DATE,
    window?.to ?? NO_DATE,
    rule.id,
    rule.sum?.metric ?? "na",
  ];
  if (cells.some((cell) => cell.trim() !== cell)) {
    return { reason: "a name starts or ends with a space, which the table trims" };
  }
  return { cells };
}

const csvCell = (cell: string) => {
  const text = escapeFormula(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/**
 * The rules as a CSV of the 12-column table (docs/rules.md section 1.2, with MetricName), CRLF line ends;
 * `parseRulesCsv` reads it back to the same rules, enabled. Rules the table cannot say are left
 * out and listed with the reason. The table has no column for `enabled`. A cell a spreadsheet
 * would take for a formula gets a `'` in front (`escapeFormula`), which the reader takes off.
 */
export function formatRulesCsv(rules: readonly Rule[]): {
  readonly text: string;
  readonly leftOut: readonly { readonly id: string; readonly reason: string }[];
} {
  const rows: (readonly string[])[] = [CSV_COLUMNS];
  const leftOut: { id: string; reason: string }[] = [];
  for (const rule of rules) {
    const row = ruleRowOf(rule);
    if ("reason" in row) leftOut.push({ id: rule.id, reason: row.reason });
    else rows.push(row.cells);
  }
  return { text: `${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`, leftOut };
}
