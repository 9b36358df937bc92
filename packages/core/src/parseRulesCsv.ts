import { parse } from "csv-parse/sync";
import { InvalidRulesError, type LoadedRules, type RuleIssue } from "./issues.js";
import { type RuleRow, readRuleRows } from "./parseRuleRows.js";
import { unescapeFormula } from "./spreadsheetText.js";

// ---------------------------------------------------------------------------------------------
// Reading the table: RFC 4180 records with the file line where each starts.

function countNewlines(bytes: Uint8Array, from: number, to: number): number {
  let count = 0;
  for (let index = from; index < to; index++) if (bytes[index] === 10) count++;
  return count;
}

const SYNTAX_MESSAGES: Readonly<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED:
    'a quoted cell is never closed; add the closing double quote (") at the end of the cell',
  CSV_INVALID_CLOSING_QUOTE:
    'a quoted cell must end with its closing quote followed by a comma or the end of the line; inside a quoted cell write a double quote as ""',
  INVALID_OPENING_QUOTE:
    'a double quote inside an unquoted cell; quote the whole cell and double the inner quotes ("say ""hi""")',
  CSV_INVALID_OPENING_QUOTE:
    'a double quote inside an unquoted cell; quote the whole cell and double the inner quotes ("say ""hi""")',
  CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE:
    "text after the closing quote of a cell; put the whole cell inside the quotes",
};

/**
 * csv-parse's own `lines` counts a CRLF inside a quoted cell twice, so lines are computed here
 * from the byte offset where each record starts (a record ends after its record delimiter).
 */
function readRows(text: string): { rows: RuleRow[]; syntaxError?: RuleIssue } {
  const bytes = new TextEncoder().encode(text);
  const rows: RuleRow[] = [];
  let start = 0;
  let line = 1;
  const onRecord = (record: string[], context: { bytes: number }) => {
    // formatRulesCsv's guard against spreadsheet formulas (`'=x`) is taken off: the cell is `=x`.
    rows.push({ line, cells: record.map(unescapeFormula) });
    line += countNewlines(bytes, start, context.bytes);
    start = context.bytes;
    return record;
  };
  try {
    parse(text, {
      bom: true,
      relax_column_count: true,
      record_delimiter: ["\r\n", "\n"],
      // Whitespace around a quoted cell is allowed (`a, "b,c"`); cells are trimmed anyway.
      trim: true,
      on_record: onRecord,
    });
    return { rows };
  } catch (error) {
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const fallback = error instanceof Error ? error.message : String(error);
    const message =
      SYNTAX_MESSAGES[code] ?? `${fallback.replace(/ at line \d+.*$/s, "")}; fix the CSV quoting`;
    return { rows, syntaxError: { severity: "error", line, message: `not valid CSV: ${message}` } };
  }
}

/**
 * The 12-column rules table (docs/rules.md section 1.2) as canonical rules. Throws `InvalidRulesError`
 * listing every error of every row (file line and column) when any row is invalid.
 */
export function parseRulesCsv(text: string, source?: string): LoadedRules {
  if (!text.includes("\n") && /\r(?!\n)/.test(text)) {
    // Old Mac line breaks would otherwise read as one long header row and load no rules at all.
    const message =
      "the lines of this file end with CR only (an old Mac format); save it again as CSV with CRLF or LF line breaks";
    throw new InvalidRulesError([{ severity: "error", line: 1, message }], source);
  }
  const { rows, syntaxError } = readRows(text);
  // The first record is the header (line 1): skipped, not checked by name.
  const { rules, issues } = readRuleRows(rows.slice(1));
  // Last: it is at the line where reading stopped, after every row read.
  if (syntaxError !== undefined) issues.push(syntaxError);
  if (issues.some((issue) => issue.severity === "error")) throw new InvalidRulesError(issues, source);
  return { rules, warnings: issues };
}
