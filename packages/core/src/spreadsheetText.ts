// A CSV cell that starts with `=`, `+`, `-` or `@` (or tab or carriage return) is a formula to a
// spreadsheet (OWASP, "CSV Injection"): a rule's event name or attribute value could run one on
// the machine of whoever opens an export. The writer puts a single quote in front of such a cell,
// which spreadsheets show as text; the reader takes that quote off again, so a file round-trips.

/** What a spreadsheet starts a formula with. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A cell the reader unquotes: quotes, then a formula start (the writer adds one quote to such cells too). */
const QUOTED_FORMULA = /^'+[=+\-@\t\r]/;
/** A plain number (`-5`, `-2.50`, `1e-7`): a spreadsheet reads it as that number, never as a formula. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * A cell's text as written to a CSV: one `'` in front when a spreadsheet would take it for a
 * formula (numbers excepted: a negative target stays a number), or when it already has quotes
 * in front of a formula start (so that `unescapeFormula` gives back the text as it was).
 */
export function escapeFormula(text: string): string {
  if (QUOTED_FORMULA.test(text)) return `'${text}`;
  return FORMULA_START.test(text) && !NUMBER.test(text) ? `'${text}` : text;
}

/** A cell's text as read from a CSV: the `'` that `escapeFormula` adds (also one a person typed) taken off. */
export function unescapeFormula(text: string): string {
  return QUOTED_FORMULA.test(text) ? text.slice(1) : text;
}
