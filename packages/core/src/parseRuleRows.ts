import { parseStrictDate } from "./dates.js";
import { isPlainDecimal, toDecimal } from "./decimal.js";
import { InvalidRulesError, type LoadedRules, type RuleIssue } from "./issues.js";
import type { Operator, Rule, RuleAction } from "./rule.js";
import {
  attributeNameProblem,
  type CheckedIssue,
  checkRules,
  DEFAULT_ATTRIBUTE_VALUE,
  dateProblem,
  decimalProblem,
  eventNameProblem,
  OWN_EVENT_PREFIX,
  ruleIdProblem,
} from "./ruleSchema.js";

/** Canonical header names of the 12-column table and its optional 13th column, by position. */
export const CSV_COLUMNS = [
  "RuleType",
  "EventName",
  "AttributeName",
  "AttributeValue",
  "Operator-C",
  "Target-C",
  "Operator-V",
  "Target-V",
  "ResetWhenReachTarget",
  "StartDate",
  "FinishDate",
  "Key",
  "MetricName",
] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

const REQUIRED_COLUMNS = 12;
/** The StartDate/FinishDate of a rule without dates. */
export const NO_DATE = "9999-99-99";

/** Column positions. */
const Col = {
  RuleType: 0,
  EventName: 1,
  AttributeName: 2,
  AttributeValue: 3,
  OperatorC: 4,
  TargetC: 5,
  OperatorV: 6,
  TargetV: 7,
  Reset: 8,
  StartDate: 9,
  FinishDate: 10,
  Key: 11,
  MetricName: 12,
} as const;
type Col = (typeof Col)[keyof typeof Col];

/** The table's operator words (`na`: no condition); it has none for `>=` and `<=`. */
export const OPERATOR_WORDS: Readonly<Record<string, Operator | null>> = {
  na: null,
  greater: ">",
  equal: "=",
  smaller: "<",
  less: "<",
};

/**
 * The action a row of the 12-column table derives (docs/rules.md section 1.2): `N` = EventName, or
 * `EventName_AttributeValue` when filtered; `date` -> attribute `trk_date_N`, `aggregator` + reset
 * -> event `trk_N`, otherwise attribute `N`, all set to `Ready`.
 */
export function tableAction(row: {
  readonly dated: boolean;
  readonly event: string;
  readonly filterValue: string | undefined;
  readonly reset: boolean;
}): RuleAction {
  const name = row.filterValue === undefined ? row.event : `${row.event}_${row.filterValue}`;
  if (row.dated) return { type: "attribute", name: `trk_date_${name}`, value: DEFAULT_ATTRIBUTE_VALUE };
  if (row.reset) return { type: "event", name: `${OWN_EVENT_PREFIX}${name}` };
  return { type: "attribute", name, value: DEFAULT_ATTRIBUTE_VALUE };
}

/** One data row of the 12-column table, wherever it was read from (a CSV file, a Honeycode table). */
export interface RuleRow {
  /** The cells by position: RuleType to Key, then the optional MetricName (trimmed before use). */
  readonly cells: readonly string[];
  /** File line where the row starts (CSV: the header is line 1); issues of the row carry it. */
  readonly line?: number;
  /** How messages name a row without a file line, e.g. `row 7 (Honeycode row id …)`. */
  readonly locator?: string;
}

/** A row mapped to the canonical form, before the shared canonical validation. */
type RawRule = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Rule ids: the Key, or RuleType+EventName; repeated ids get #2, #3... in row order.

function baseId(cells: readonly string[]): string {
  const key = cells[Col.Key] ?? "";
  return key !== "" ? key : `${(cells[Col.RuleType] ?? "").toLowerCase()}${cells[Col.EventName] ?? ""}`;
}

function assignIds(rows: readonly RuleRow[]): string[] {
  const bases = rows.map((row) => baseId(row.cells));
  const taken = new Set(bases);
  const used = new Set<string>();
  const nextSuffix = new Map<string, number>();
  return bases.map((base) => {
    if (!used.has(base)) {
      used.add(base);
      return base;
    }
    let suffix = nextSuffix.get(base) ?? 2;
    while (taken.has(`${base}#${suffix}`) || used.has(`${base}#${suffix}`)) suffix++;
    nextSuffix.set(base, suffix + 1);
    const id = `${base}#${suffix}`;
    used.add(id);
    return id;
  });
}

// ---------------------------------------------------------------------------------------------
// One row.

function readOperator(word: string): Operator | null | undefined {
  const key = word.toLowerCase();
  return Object.hasOwn(OPERATOR_WORDS, key) ? OPERATOR_WORDS[key] : undefined;
}

/** An issue of `row`: its file line, or its locator ahead of the message. */
function rowIssue(row: RuleRow, issue: Omit<RuleIssue, "line">): RuleIssue {
  return {
    ...issue,
    ...(row.line === undefined ? {} : { line: row.line }),
    message: row.locator === undefined ? issue.message : `${row.locator}: ${issue.message}`,
  };
}

function readRow(row: RuleRow, id: string): { issues: RuleIssue[]; rule?: RawRule } {
  const issues: RuleIssue[] = [];
  const ruleId = id === "" ? {} : { ruleId: id };
  const error = (column: CsvColumn | string, message: string) =>
    issues.push(rowIssue(row, { severity: "error", field: column, ...ruleId, message }));
  const warning = (column: CsvColumn, message: string) =>
    issues.push(rowIssue(row, { severity: "warning", field: column, ...ruleId, message }));
  const { cells } = row;

  if (cells.length < REQUIRED_COLUMNS) {
    error(
      CSV_COLUMNS[cells.length] ?? "Key",
      `this row has ${cells.length} cells but the table needs ${REQUIRED_COLUMNS} (RuleType to Key; MetricName is an optional 13th); add the missing cells or check the commas`,
    );
    return { issues };
  }
  const cell = (column: Col) => cells[column] ?? "";
  const extra = cells.findIndex((value, index) => index > Col.MetricName && value !== "");
  if (extra >= 0) {
    error(
      `column ${extra + 1}`,
      `unexpected ${JSON.stringify(cells[extra])} after the last column (MetricName, the 13th); remove it, or quote the cell that contains a comma`,
    );
  }

  // RuleType
  const typeWord = cell(Col.RuleType).toLowerCase();
  const type = typeWord === "aggregator" || typeWord === "date" ? typeWord : undefined;
  if (type === undefined) {
    error(
      "RuleType",
      `unknown RuleType ${JSON.stringify(cell(Col.RuleType))}; use aggregator (counts from the start) or date (counts between StartDate and FinishDate)`,
    );
  }

  // EventName
  const event = cell(Col.EventName);
  const eventProblem = eventNameProblem(event);
  if (eventProblem !== undefined) error("EventName", eventProblem);

  // AttributeName / AttributeValue
  const attributeName = cell(Col.AttributeName);
  const attributeValue = cell(Col.AttributeValue);
  const filtered = attributeName.toLowerCase() !== "na";
  const reservedName = filtered ? attributeNameProblem(attributeName, event) : undefined;
  if (filtered && attributeName === "") {
    error("AttributeName", "empty; write the event attribute to filter on, or na for no filter");
  } else if (reservedName !== undefined) {
    error("AttributeName", reservedName);
  } else if (filtered && attributeValue === "") {
    error(
      "AttributeValue",
      `empty; write the value that attribute ${JSON.stringify(attributeName)} must have, or set AttributeName to na for no filter`,
    );
  }

  // Operators and targets
  const operator = (column: "Operator-C" | "Operator-V", word: string) => {
    const op = readOperator(word);
    if (op === undefined) {
      error(
        column,
        `unknown operator ${JSON.stringify(word)}; use na, greater, equal, smaller or less (the table has no words for >= or <=: use a canonical JSON/YAML rule for those)`,
      );
    } else if (op === "<" && type === "aggregator") {
      error(
        column,
        `${JSON.stringify(word)} cannot be used on an aggregator rule: a lifetime "fewer than" can never be final; use RuleType date with StartDate and FinishDate`,
      );
    }
    return op;
  };
  const countOp = operator("Operator-C", cell(Col.OperatorC));
  const sumOp = operator("Operator-V", cell(Col.OperatorV));
  if (countOp === null && sumOp === null) {
    error(
      "Operator-C",
      "both Operator-C and Operator-V are na, so the rule has no condition; set at least one of them",
    );
  }
  let countValue: number | undefined;
  if (countOp !== null) {
    const target = cell(Col.TargetC);
    const decimal = isPlainDecimal(target) ? toDecimal(target) : undefined;
    if (decimal === undefined || !decimal.isInteger() || (decimal.isNegative() && !decimal.isZero())) {
      error(
        "Target-C",
        `${JSON.stringify(target)} is not a whole number >= 0; write the count target, e.g. 3`,
      );
    } else if (decimal.gt(Number.MAX_SAFE_INTEGER)) {
      error("Target-C", `${target} is too large; use at most ${Number.MAX_SAFE_INTEGER}`);
    } else {
      countValue = decimal.toNumber() + 0;
    }
  }
  let sumValue: string | undefined;
  if (sumOp !== null) {
    const target = cell(Col.TargetV);
    const problem = isPlainDecimal(target)
      ? decimalProblem(target)
      : `${JSON.stringify(target)} is not a number; write the sum target as a decimal without exponent, e.g. 180 or -2.50`;
    if (problem === undefined) sumValue = target;
    else error("Target-V", problem);
  }

  // ResetWhenReachTarget
  const resetWord = cell(Col.Reset).toLowerCase();
  let reset = false;
  if (type === "aggregator") {
    if (resetWord === "yes" || resetWord === "no") reset = resetWord === "yes";
    else {
      error(
        "ResetWhenReachTarget",
        `${JSON.stringify(cell(Col.Reset))} is not yes or no; write yes (fire again each time the target is reached) or no (once per user)`,
      );
    }
  } else if (type === "date" && resetWord === "yes") {
    warning(
      "ResetWhenReachTarget",
      "yes is ignored on a date rule (only aggregator rules reset); a date rule notifies once per user",
    );
  }

  // StartDate / FinishDate
  const from = cell(Col.StartDate);
  const to = cell(Col.FinishDate);
  if (type === "aggregator") {
    for (const [column, value] of [
      ["StartDate", from],
      ["FinishDate", to],
    ] as const) {
      if (value !== "" && value !== NO_DATE) {
        error(
          column,
          `${JSON.stringify(value)} on an aggregator rule, which counts from the start and takes no dates; write ${NO_DATE} or leave it empty, or use RuleType date to count between dates`,
        );
      }
    }
  } else if (type === "date") {
    for (const [column, value] of [
      ["StartDate", from],
      ["FinishDate", to],
    ] as const) {
      if (value === "") error(column, "empty; a date rule needs both dates, YYYY-MM-DD");
      else {
        const problem = dateProblem(value);
        if (problem !== undefined) {
          error(
            column,
            value === NO_DATE ? `${problem}; a rule without dates is RuleType aggregator` : problem,
          );
        }
      }
    }
    const start = parseStrictDate(from);
    const finish = parseStrictDate(to);
    if (start !== undefined && finish !== undefined && finish < start) {
      error("FinishDate", `${to} is before StartDate ${from}; the window would be empty: swap the dates`);
    }
  }

  // Key (the rule id)
  const idProblem = ruleIdProblem(id);
  if (idProblem !== undefined) {
    error(
      "Key",
      cell(Col.Key) === "" ? `${idProblem} (the id is RuleType+EventName since Key is empty)` : idProblem,
    );
  }

  // MetricName
  const metricCell = cell(Col.MetricName);
  const metric = metricCell === "" || metricCell.toLowerCase() === "na" ? undefined : metricCell;

  if (issues.some((issue) => issue.severity === "error") || type === undefined) return { issues };

  const rule: RawRule = {
    id,
    event,
    ...(filtered ? { where: { [attributeName]: attributeValue } } : {}),
    ...(countOp === null || countValue === undefined ? {} : { count: { op: countOp, value: countValue } }),
    ...(sumOp === null || sumValue === undefined
      ? {}
      : { sum: { ...(metric === undefined ? {} : { metric }), op: sumOp, value: sumValue } }),
    ...(type === "date" ? { window: { from, to } } : {}),
    action: tableAction({
      dated: type === "date",
      event,
      filterValue: filtered ? attributeValue : undefined,
      reset,
    }),
    reset: type === "aggregator" && reset,
    enabled: true,
  };
  return { issues, rule };
}

// ---------------------------------------------------------------------------------------------
// Canonical issues of mapped rows, told in the table's terms.

const COLUMN_OF_FIELD: Readonly<Record<string, CsvColumn>> = {
  id: "Key",
  event: "EventName",
  where: "AttributeValue",
  "count.op": "Operator-C",
  "count.value": "Target-C",
  "sum.op": "Operator-V",
  "sum.value": "Target-V",
  "sum.metric": "MetricName",
  "window.from": "StartDate",
  "window.to": "FinishDate",
  "action.name": "EventName",
  "action.value": "AttributeValue",
  reset: "ResetWhenReachTarget",
};

function columnOf(issue: CheckedIssue): CsvColumn | undefined {
  const [head, next] = issue.rulePath;
  if (head === undefined) return undefined;
  return COLUMN_OF_FIELD[`${String(head)}.${String(next)}`] ?? COLUMN_OF_FIELD[String(head)];
}

/**
 * Validates rows of the 12-column table and maps them to canonical rules, without throwing.
 * Blank rows are skipped (their position still counts); issues come in row order, those of no
 * particular row first.
 */
export function readRuleRows(rows: readonly RuleRow[]): { rules: readonly Rule[]; issues: RuleIssue[] } {
  const dataRows = rows
    .map((row) => ({ ...row, cells: row.cells.map((cell) => cell.trim()) }))
    .filter((row) => row.cells.some((cell) => cell !== ""));
  const ids = assignIds(dataRows);
  const byRow = dataRows.map((): RuleIssue[] => []);
  const mapped: { rowIndex: number; rule: RawRule }[] = [];
  dataRows.forEach((row, rowIndex) => {
    const result = readRow(row, ids[rowIndex] ?? "");
    byRow[rowIndex]?.push(...result.issues);
    if (result.rule !== undefined) mapped.push({ rowIndex, rule: result.rule });
  });

  // The same final validation as canonical rules, so both paths agree.
  const checked = checkRules(mapped.map(({ rule }) => rule));
  const general: RuleIssue[] = [];
  for (const issue of checked.issues) {
    const origin = issue.ruleIndex === undefined ? undefined : mapped[issue.ruleIndex];
    const column = columnOf(issue);
    const told: RuleIssue = {
      severity: issue.severity,
      ...(column === undefined ? {} : { field: column }),
      ...(issue.ruleId === undefined ? {} : { ruleId: issue.ruleId }),
      message: issue.message,
    };
    const row = origin === undefined ? undefined : dataRows[origin.rowIndex];
    if (origin === undefined || row === undefined) general.push(told);
    else byRow[origin.rowIndex]?.push(rowIssue(row, told));
  }
  return { rules: checked.rules, issues: [...general, ...byRow.flat()] };
}

/**
 * Rows of the 12-column table (docs/rules.md section 1.2) as canonical rules: the validation every
 * source of such rows shares (a CSV file, a Honeycode table). Throws `InvalidRulesError` listing
 * every error of every row when any row is invalid.
 */
export function parseRuleRows(rows: readonly RuleRow[], source?: string): LoadedRules {
  const { rules, issues } = readRuleRows(rows);
  if (issues.some((issue) => issue.severity === "error")) throw new InvalidRulesError(issues, source);
  return { rules, warnings: issues };
}
