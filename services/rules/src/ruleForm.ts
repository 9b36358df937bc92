import {
  CSV_COLUMNS,
  counterKey,
  DAY_MS,
  DEFAULT_ATTRIBUTE_VALUE,
  MAX_ROLLING_MS,
  OPERATORS,
  type Operator,
  rollingLengthMs,
  SINK_NAMES,
  tableAction,
} from "@pia/core";
import { InvalidRuleError } from "./errors.js";
import { validateRule } from "./validateRule.js";

// The contract between the API and the editor (`GET /rules/schema`, `POST /rules/draft`): what the
// page needs of the core to draw and fill its form, so that the page keeps no copy of a core rule.

const OPERATOR_TEXT: Readonly<Record<Operator, string>> = {
  ">": "> more than",
  ">=": "≥ at least",
  "=": "= exactly",
  "<": "< fewer than",
  "<=": "≤ at most",
};

const HOUR_MS = 3_600_000;

/**
 * The units of a rolling window's `last` (docs/rules.md section 4.4), with how the form shows them
 * and the most of each the core takes (400d, 9600h). The core alone validates `last`: these only
 * draw the field.
 */
const ROLLING_UNITS = [
  { value: "h", text: "hours", max: MAX_ROLLING_MS / HOUR_MS },
  { value: "d", text: "days", max: MAX_ROLLING_MS / DAY_MS },
] as const;

/** What the editor draws its form from. */
export function ruleFormSchema() {
  return {
    /** The 12-column table's header and its optional 13th column, by position. */
    columns: CSV_COLUMNS,
    /** The operators of a count or sum condition, with how the form shows them. */
    operators: OPERATORS.map((value) => ({ value, text: OPERATOR_TEXT[value] })),
    sinks: SINK_NAMES,
    /** A rolling window, `window: { last: "<whole number><unit>" }`: its units, from 1h. */
    rolling: { min: "1h", max: `${MAX_ROLLING_MS / DAY_MS}d`, units: ROLLING_UNITS },
  };
}

/**
 * The action name a draft gets when it names none: the one the 12-column table derives. A rolling
 * rule, which the table cannot say, gets the lifetime rule's name followed by its window
 * (`pageview_last_7d`, `trk_quiz_last_36h`): a rolling rule's attribute is removed when its user
 * leaves, so it had better not be the one a lifetime rule on the same event sets.
 */
function defaultActionName(draft: unknown): string | undefined {
  if (typeof draft !== "object" || draft === null) return undefined;
  const { event, where, window, action } = draft as Record<string, unknown>;
  if (typeof event !== "string") return undefined;
  const filters = typeof where === "object" && where !== null ? Object.values(where) : [];
  const [only] = filters;
  const type =
    typeof action === "object" && action !== null ? (action as { type?: unknown }).type : undefined;
  const last =
    typeof window === "object" && window !== null ? (window as { last?: unknown }).last : undefined;
  const name = tableAction({
    dated: window !== undefined && last === undefined,
    event,
    filterValue: filters.length === 1 && typeof only === "string" ? only : undefined,
    reset: type === "event",
  }).name;
  // An invalid length suggests no suffix (the draft's errors say what to write).
  return typeof last === "string" && rollingLengthMs(last) !== undefined ? `${name}_last_${last}` : name;
}

/**
 * A rule drafted in the form: a canonical rule whose `action.name` (and an attribute's `value`)
 * may be left out; they default as the 12-column table derives them. Validated like any rule;
 * the default action name comes back also when the draft is invalid, for the form to suggest it.
 * Never throws for an invalid draft: `valid: false` lists every error by field.
 */
export function draftRule(draft: unknown) {
  const actionName = defaultActionName(draft);
  let filled = draft;
  if (typeof draft === "object" && draft !== null) {
    const { action } = draft as { action?: unknown };
    if (typeof action === "object" && action !== null) {
      const given = action as Record<string, unknown>;
      filled = {
        ...draft,
        action: {
          ...given,
          ...((given.name ?? "") === "" && actionName !== undefined ? { name: actionName } : {}),
          ...(given.type === "attribute" && (given.value ?? "") === ""
            ? { value: DEFAULT_ATTRIBUTE_VALUE }
            : {}),
        },
      };
    }
  }
  const suggestion = actionName === undefined ? {} : { defaultActionName: actionName };
  try {
    const valid = validateRule(filled);
    // What the draft counts: the editor offers a backfill when it differs from the saved rule's.
    return { valid: true as const, ...valid, counterKey: counterKey(valid.rule), ...suggestion };
  } catch (error: unknown) {
    if (!(error instanceof InvalidRuleError)) throw error;
    return { valid: false as const, errors: error.errors, warnings: error.warnings, ...suggestion };
  }
}
