import { z } from "zod";
import { parseStrictDate } from "./dates.js";
import { canonicalDecimal, isPlainDecimal, toDecimal } from "./decimal.js";
import { InvalidRulesError, type LoadedRules, type RuleIssue } from "./issues.js";
import {
  isRollingWindow,
  OPERATORS,
  type Operator,
  type Rule,
  type RuleAction,
  type RuleWindow,
  rollingLengthMs,
  SINK_NAMES,
  type SinkName,
} from "./rule.js";

/** A path in a parsed document: keys of mappings and indexes of lists. */
export type DocumentPath = readonly (string | number)[];

/** Finds the file line of the node at a document path (e.g. from a YAML document). */
export type LineOf = (path: (string | number)[]) => number | undefined;

export const MAX_RULE_ID_LENGTH = 128;
/** Pinpoint limits on user attribute names and values. */
export const PINPOINT_MAX_ATTRIBUTE_NAME_LENGTH = 50;
export const PINPOINT_MAX_ATTRIBUTE_VALUE_LENGTH = 100;
export const DEFAULT_ATTRIBUTE_VALUE = "Ready";
/** Prefix of the events this engine fires; such events (and `_` system events) are never counted. */
export const OWN_EVENT_PREFIX = "trk_";
/** DynamoDB numbers: 38 significant digits, magnitude below 1e126 and at least 1e-130. */
const MAX_SIGNIFICANT_DIGITS = 38;

const OPERATOR_LIST = OPERATORS.join(", ");
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u;

/** A short, readable rendering of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "nothing (null)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return String(value);
}

function quoteHint(value: unknown): string {
  return typeof value === "number" || typeof value === "boolean" ? `; quote it: "${String(value)}"` : "";
}

function charCount(text: string): number {
  return [...text].length;
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the canonical schema and the CSV reader: each returns what to fix, or undefined.

/** Rule ids: 1-128 printable characters. */
export function ruleIdProblem(id: string): string | undefined {
  if (id === "") return "the rule id is empty; give every rule a unique name of 1-128 printable characters";
  const length = charCount(id);
  if (length > MAX_RULE_ID_LENGTH) {
    return `the rule id is ${length} characters long; use at most ${MAX_RULE_ID_LENGTH}`;
  }
  if (CONTROL.test(id)) {
    return `the rule id ${describeValue(id)} contains a control character (a tab, line break...); use printable characters only`;
  }
  return undefined;
}

/** Counted events: non-empty, not a Pinpoint system event (`_`) nor one of ours (`trk_`). */
export function eventNameProblem(event: string): string | undefined {
  if (event === "") return "the event name is empty; write the exact event_type to count";
  for (const prefix of ["_", OWN_EVENT_PREFIX]) {
    if (event.startsWith(prefix)) {
      return `events starting with "_" (Pinpoint system events) or "${OWN_EVENT_PREFIX}" (events this engine fires) are never counted, so a rule on ${describeValue(event)} could never fire; use the event_type your app records`;
    }
  }
  return undefined;
}

/** Event actions: the fired event must start with `trk_` so that no rule ever counts it again. */
export function eventActionNameProblem(name: string): string | undefined {
  if (name === "") return "the action name is empty; name the event to fire, starting with trk_";
  if (!name.startsWith(OWN_EVENT_PREFIX) || name === OWN_EVENT_PREFIX) {
    return `the fired event ${describeValue(name)} must start with "${OWN_EVENT_PREFIX}" (e.g. "${OWN_EVENT_PREFIX}${name}"): events starting with ${OWN_EVENT_PREFIX} are never counted, so the engine cannot trigger itself`;
  }
  return undefined;
}

/**
 * Attribute names a filter cannot use. `__proto__` is not data to JavaScript objects: zod, the SDK's
 * DynamoDB marshalling and object literals drop it or take it for the prototype, so a filter on it
 * would vanish without a word and the rule would count every event of its type. (`constructor`,
 * `prototype` and the like stay ordinary data: events are matched on their own attributes only.)
 */
export function attributeNameProblem(name: string, event: string): string | undefined {
  if (name !== "__proto__") return undefined;
  return `the attribute name "__proto__" is reserved: it cannot be stored as a filter, which would be dropped, so the rule would count every ${event} event; filter on another attribute (have your app send this one under another name)`;
}

/** A real calendar date written `YYYY-MM-DD`. */
export function dateProblem(text: string): string | undefined {
  if (parseStrictDate(text) !== undefined) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    return `${describeValue(text)} is not a real calendar date; check the month and the day (YYYY-MM-DD, e.g. 2021-02-28)`;
  }
  return `${describeValue(text)} is not a date; write YYYY-MM-DD (e.g. 2021-01-31)`;
}

/** Exact decimal targets as DynamoDB can store them. `text` must already be a plain decimal. */
export function decimalProblem(text: string): string | undefined {
  const value = toDecimal(text);
  if (value.sd() > MAX_SIGNIFICANT_DIGITS) {
    return `${describeValue(text)} has more than ${MAX_SIGNIFICANT_DIGITS} significant digits, more than a DynamoDB number holds; round it`;
  }
  const magnitude = value.abs();
  if (!magnitude.isZero() && (magnitude.gte("1e126") || magnitude.lt("1e-130"))) {
    return `${describeValue(text)} is out of the range of DynamoDB numbers (1e-130 to 1e126)`;
  }
  return undefined;
}

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: string };

/** A count target: a whole number >= 0 given as a number or a digit string. */
export function readCountValue(value: unknown): Checked<number> {
  const what = "the count target must be a whole number >= 0, e.g. 3";
  if (value === undefined) return { ok: false, problem: `add value: ${what}` };
  let number: number | undefined;
  if (typeof value === "number") number = value;
  else if (typeof value === "string" && /^\d+$/.test(value)) number = Number(value);
  if (number === undefined || !Number.isInteger(number) || number < 0) {
    return { ok: false, problem: `${what} (got ${describeValue(value)})` };
  }
  if (!Number.isSafeInteger(number)) {
    return {
      ok: false,
      problem: `the count target ${describeValue(value)} is too large; use at most ${Number.MAX_SAFE_INTEGER}`,
    };
  }
  return { ok: true, value: number + 0 };
}

/** A sum target: a JSON number or a plain decimal string (no exponent), kept as exact decimal text. */
export function readSumValue(value: unknown): Checked<string> {
  const what =
    'the sum target must be a number, e.g. 180.5, or a decimal in quotes without exponent, e.g. "-2.50"';
  if (value === undefined) return { ok: false, problem: `add value: ${what}` };
  let text: string | undefined;
  if (typeof value === "number" && Number.isFinite(value)) text = canonicalDecimal(toDecimal(String(value)));
  else if (typeof value === "string" && isPlainDecimal(value)) text = value;
  if (text === undefined) return { ok: false, problem: `${what} (got ${describeValue(value)})` };
  const problem = decimalProblem(text);
  return problem === undefined ? { ok: true, value: text } : { ok: false, problem };
}

// ---------------------------------------------------------------------------------------------
// The zod schemas of canonical rules (docs/rules.md section 1.1).

function problemCheck<T>(problem: (value: T) => string | undefined) {
  return (value: T, ctx: z.core.$RefinementCtx<T>): void => {
    const message = problem(value);
    if (message !== undefined) ctx.addIssue({ code: "custom", message, input: value });
  };
}

function checkedValue<T>(read: (value: unknown) => Checked<T>) {
  return z.unknown().transform((value, ctx): T => {
    const result = read(value);
    if (result.ok) return result.value;
    ctx.addIssue({ code: "custom", message: result.problem, input: value });
    return z.NEVER;
  });
}

/** A text field; `missing` says what to write when the key is absent. */
function text(missing: string) {
  return z.string({
    error: (issue) =>
      issue.input === undefined
        ? missing
        : `must be text, got ${describeValue(issue.input)}${quoteHint(issue.input)}`,
  });
}

function mapping(example: string) {
  return {
    error: (issue: z.core.$ZodRawIssue) =>
      issue.code === "invalid_type" ? `must be a mapping, e.g. ${example}` : undefined,
  };
}

const nonEmpty = (what: string) => (value: string) => (value === "" ? `${what} is empty` : undefined);

const operatorSchema = z.enum(OPERATORS, {
  error: (issue) =>
    issue.input === undefined
      ? `add op: one of ${OPERATOR_LIST}`
      : `unknown operator ${describeValue(issue.input)}; use one of ${OPERATOR_LIST}`,
});

const dateSchema = text("add the date: YYYY-MM-DD (an inclusive UTC date)").superRefine(
  problemCheck(dateProblem),
);

const ruleIdSchema = text("add id: a unique name for the rule, 1-128 printable characters").superRefine(
  problemCheck(ruleIdProblem),
);

const eventSchema = text("add event: the exact event_type to count").superRefine(
  problemCheck(eventNameProblem),
);

const whereSchema = z.record(
  z.string().superRefine(problemCheck(nonEmpty("an attribute name"))),
  z
    .string({
      error: (issue) =>
        `attribute filters compare text: got ${describeValue(issue.input)}${quoteHint(issue.input) || "; write the required value as text"}`,
    })
    .superRefine(
      problemCheck((value: string) =>
        value === "" ? "the required value is empty; write it, or remove this filter" : undefined,
      ),
    ),
  {
    error: (issue) => {
      if (issue.code === "invalid_key") return "an attribute name is empty; write the attribute to filter on";
      return mapping("where: { product: table } (attribute name: required value)").error(issue);
    },
  },
);

export const countConditionSchema = z.strictObject(
  { op: operatorSchema, value: checkedValue(readCountValue) },
  mapping('count: { op: ">", value: 3 }'),
);

export const sumConditionSchema = z.strictObject(
  {
    metric: text("add metric: the name of the metric to sum")
      .superRefine(problemCheck(nonEmpty("the metric name")))
      .optional(),
    op: operatorSchema,
    value: checkedValue(readSumValue),
  },
  mapping('sum: { metric: price, op: ">=", value: 180.5 }'),
);

const dateWindowSchema = z
  .strictObject({ from: dateSchema, to: dateSchema }, mapping("window: { from: 2021-01-01, to: 2021-01-31 }"))
  .superRefine((window, ctx) => {
    const from = parseStrictDate(window.from);
    const to = parseStrictDate(window.to);
    if (from !== undefined && to !== undefined && to < from) {
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        input: window.to,
        message: `the window ends (${window.to}) before it starts (${window.from}); swap the dates`,
      });
    }
  });

/** A rolling window's length: a whole number without leading zeros and `d` or `h`, 1h..400d. */
export function readRollingLength(value: unknown): Checked<string> {
  const what = "write a whole number and a unit, d (days) or h (hours), from 1h to 400d (9600h), e.g. 7d";
  if (value === undefined) return { ok: false, problem: `add last: ${what}` };
  if (typeof value === "string" && rollingLengthMs(value) !== undefined) return { ok: true, value };
  if (typeof value === "string" && /^\d+[dh]$/.test(value) && !value.startsWith("0")) {
    return { ok: false, problem: `${describeValue(value)} is outside 1h..400d (9600h); ${what}` };
  }
  return { ok: false, problem: `${describeValue(value)} is not a window length; ${what}` };
}

const rollingWindowSchema = z.strictObject(
  { last: checkedValue(readRollingLength) },
  mapping("window: { last: 7d }"),
);

/**
 * A date range (`from`, `to`) or a rolling window (`last`). Which one is read from the presence of
 * `last`, so that each gets its own errors rather than a union's "matches neither".
 */
export const windowSchema = z.unknown().transform((value, ctx): RuleWindow => {
  const schema: z.ZodType<RuleWindow> =
    isRecord(value) && "last" in value ? rollingWindowSchema : dateWindowSchema;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  // The inner schema's issues as they are (path relative to window, message, keys). The cast: under
  // exactOptionalPropertyTypes zod's reported issues (`input: T | undefined`) do not type-check as
  // the raw issues addIssue takes (`input?: T`), though they have the same fields.
  for (const issue of parsed.error.issues) ctx.addIssue(issue as never);
  return z.NEVER;
});

const actionNameSchema = text("add name: the user attribute to set or the trk_ event to fire").superRefine(
  problemCheck(nonEmpty("the action name")),
);

const sinkSchema = z
  .string({ error: `sink must be text: one of ${SINK_NAMES.join(", ")}` })
  .refine((name) => (SINK_NAMES as readonly string[]).includes(name), {
    error: (issue) =>
      `unknown sink ${JSON.stringify(issue.input)}; use one of ${SINK_NAMES.join(", ")}, or omit sink for the stage's default`,
  })
  .transform((name) => name as SinkName)
  .optional();

const attributeActionSchema = z.strictObject({
  type: z.literal("attribute"),
  sink: sinkSchema,
  name: actionNameSchema,
  value: text(`add value: the attribute value to set (default ${DEFAULT_ATTRIBUTE_VALUE})`)
    .superRefine(
      problemCheck((value: string) =>
        value === ""
          ? `the attribute value is empty; write one, or omit value to set "${DEFAULT_ATTRIBUTE_VALUE}"`
          : undefined,
      ),
    )
    .default(DEFAULT_ATTRIBUTE_VALUE),
});

const eventActionSchema = z.strictObject({
  type: z.literal("event"),
  sink: sinkSchema,
  name: text(`add name: the event to fire, starting with ${OWN_EVENT_PREFIX}`).superRefine(
    problemCheck(eventActionNameProblem),
  ),
});

export const actionSchema = z.discriminatedUnion("type", [attributeActionSchema, eventActionSchema], {
  error: (issue) => {
    const input = issue.input;
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      return "must be a mapping, e.g. action: { type: attribute, name: big_spender } or { type: event, name: trk_big_spender }";
    }
    const type = (input as Record<string, unknown>).type;
    return type === undefined
      ? "add type: attribute (set a user attribute) or event (fire a trk_ event)"
      : `unknown action type ${describeValue(type)}; use attribute (set a user attribute) or event (fire a trk_ event)`;
  },
});

const flag = (defaultValue: boolean) =>
  z
    .boolean({ error: (issue) => `must be true or false, got ${describeValue(issue.input)}` })
    .default(defaultValue);

const ruleShape = {
  id: ruleIdSchema,
  event: eventSchema,
  where: whereSchema.optional(),
  count: countConditionSchema.optional(),
  sum: sumConditionSchema.optional(),
  window: windowSchema.optional(),
  action: actionSchema,
  reset: flag(false),
  enabled: flag(true),
};

/**
 * One canonical rule, field by field (strict: unknown keys are errors). Checks that span
 * fields or rules (count or sum present, lifetime "fewer than", duplicate ids...) are made by
 * `checkRules`, which reports every problem at once.
 */
export const canonicalRuleSchema = z.strictObject(
  ruleShape,
  mapping(
    '- { id: big-spender, event: purchase, count: { op: ">", value: 3 }, action: { type: attribute, name: big_spender } }',
  ),
);

export type CanonicalRuleOutput = z.output<typeof canonicalRuleSchema>;

const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  rule: Object.keys(ruleShape),
  count: Object.keys(countConditionSchema.shape),
  sum: Object.keys(sumConditionSchema.shape),
  window: ["from", "to"],
  rolling: ["last"],
  attribute: Object.keys(attributeActionSchema.shape),
  event: Object.keys(eventActionSchema.shape),
};

// ---------------------------------------------------------------------------------------------
// Validation of a whole rules document.

/** A problem located by paths; `validateRules` turns it into a `RuleIssue`. */
export interface CheckedIssue {
  readonly severity: "error" | "warning";
  /** Path in the input document, as `lineOf` receives it. */
  readonly path: DocumentPath;
  /** Index of the rule in the list, when the problem belongs to one rule. */
  readonly ruleIndex?: number;
  /** Path inside that rule (e.g. `["count", "op"]`), or inside the document when `ruleIndex` is absent. */
  readonly rulePath: DocumentPath;
  readonly ruleId?: string;
  readonly message: string;
}

export interface CheckedRules {
  /** The valid rules; complete only when `issues` holds no error. */
  readonly rules: readonly Rule[];
  readonly issues: readonly CheckedIssue[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0] ?? 0;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      previous[j] = Math.min(above + 1, (previous[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return previous[b.length] ?? 0;
}

function unknownKeyMessage(key: string, known: readonly string[], container: string): string {
  if (container === "rolling" && (key === "from" || key === "to")) {
    return `"last" excludes "${key}": a window is either the last N days or hours (last) or a date range (from, to); remove one of them`;
  }
  if (container === "event" && key === "value") {
    return 'unknown key "value": an event action has no value (only attribute actions set one); remove it';
  }
  const guess = known.find(
    (candidate) =>
      candidate.toLowerCase() === key.toLowerCase() || editDistance(candidate, key.toLowerCase()) <= 2,
  );
  const hint = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
  return `unknown key ${JSON.stringify(key)}${hint}; allowed here: ${known.join(", ")}. Fix its spelling or remove it`;
}

function containerOf(rulePath: DocumentPath, raw: Record<string, unknown>): string {
  if (rulePath.length === 0) return "rule";
  const head = String(rulePath[0]);
  if (head === "window") return isRecord(raw.window) && "last" in raw.window ? "rolling" : "window";
  if (head === "action") return isRecord(raw.action) && raw.action.type === "event" ? "event" : "attribute";
  return head;
}

function zodIssuesOf(issue: z.core.$ZodIssue, raw: Record<string, unknown>) {
  const rulePath = issue.path.filter((key): key is string | number => typeof key !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const container = containerOf(rulePath, raw);
    const known = KNOWN_KEYS[container] ?? [];
    return issue.keys.map((key) => ({
      rulePath: [...rulePath, key],
      message: unknownKeyMessage(key, known, container),
    }));
  }
  return [{ rulePath, message: issue.message }];
}

function toRule(data: CanonicalRuleOutput): Rule {
  const sink = data.action.sink === undefined ? {} : { sink: data.action.sink };
  const action: RuleAction =
    data.action.type === "attribute"
      ? { type: "attribute", name: data.action.name, value: data.action.value, ...sink }
      : { type: "event", name: data.action.name, ...sink };
  const { where, count, sum, window } = data;
  return {
    id: data.id,
    event: data.event,
    ...(where === undefined ? {} : { where: { ...where } }),
    ...(count === undefined ? {} : { count: { op: count.op, value: count.value } }),
    ...(sum === undefined
      ? {}
      : {
          sum: { ...(sum.metric === undefined ? {} : { metric: sum.metric }), op: sum.op, value: sum.value },
        }),
    ...(window === undefined
      ? {}
      : { window: isRollingWindow(window) ? { last: window.last } : { from: window.from, to: window.to } }),
    action,
    // A date window ignores reset (warned below); a rolling rule keeps it (checked below).
    reset: window === undefined || isRollingWindow(window) ? data.reset : false,
    enabled: data.enabled,
  };
}

const FEWER_THAN: readonly unknown[] = ["<", "<="] satisfies Operator[];

const STREAMING_OPERATORS: readonly unknown[] = [">", ">="] satisfies Operator[];

/**
 * A rolling rule may reset only when it fires an event each time the target is reached: with `=`,
 * `<` or `<=` the user can be "in" with an empty window, and an attribute it would set again and
 * again while removing it never.
 */
function rollingResetIssues(raw: Record<string, unknown>) {
  const found: { severity: "error"; rulePath: DocumentPath; message: string }[] = [];
  for (const key of ["count", "sum"] as const) {
    const condition = raw[key];
    if (isRecord(condition) && condition.op !== undefined && !STREAMING_OPERATORS.includes(condition.op)) {
      found.push({
        severity: "error",
        rulePath: ["reset"],
        message: `reset on a rolling window needs ">" or ">=" in every comparison, and ${key} uses "${String(condition.op)}"; remove reset or use > / >=`,
      });
    }
  }
  if (isRecord(raw.action) && raw.action.type !== "event") {
    found.push({
      severity: "error",
      rulePath: ["reset"],
      message:
        "reset on a rolling window needs an event action (type: event, name: trk_...): an attribute is set once and removed on exit, so it cannot fire again; remove reset or fire an event",
    });
  }
  return found;
}

/**
 * A rolling rule's exit removes its attribute, so another rule setting the same attribute would
 * see its value removed (or a removed one set again): allowed, but said.
 */
function sharedAttributeIssues(rules: readonly { readonly index: number; readonly rule: Rule }[]) {
  const found: { index: number; ruleId: string; message: string }[] = [];
  for (const { index, rule } of rules) {
    if (!isRollingWindow(rule.window) || rule.action.type !== "attribute") continue;
    const name = rule.action.name;
    const others = rules
      .filter((other) => other.index !== index)
      .filter((other) => other.rule.action.type === "attribute" && other.rule.action.name === name)
      .map((other) => other.rule.id);
    if (others.length === 0) continue;
    found.push({
      index,
      ruleId: rule.id,
      message: `the attribute ${describeValue(name)} is also set by ${others.map((id) => describeValue(id)).join(", ")}; when this rolling rule's user leaves the window, the attribute is removed, whichever rule set it. Give this rule an attribute of its own`,
    });
  }
  return found;
}

/** Checks across the fields of one rule; they work on the raw input so they run even when fields are invalid. */
function crossFieldIssues(raw: Record<string, unknown>) {
  const found: { severity: "error" | "warning"; rulePath: DocumentPath; message: string }[] = [];
  if (raw.count === undefined && raw.sum === undefined) {
    found.push({
      severity: "error",
      rulePath: [],
      message: 'the rule has no condition; add count, sum or both, e.g. count: { op: ">", value: 3 }',
    });
  }
  if (raw.window === undefined) {
    for (const key of ["count", "sum"] as const) {
      const condition = raw[key];
      if (isRecord(condition) && FEWER_THAN.includes(condition.op)) {
        found.push({
          severity: "error",
          rulePath: [key, "op"],
          message: `a lifetime 'fewer than' can never be final; add a window (window: { from: YYYY-MM-DD, to: YYYY-MM-DD }) to decide "${String(condition.op)}" when it closes, or use >, >= or =`,
        });
      }
    }
  } else if (isRecord(raw.window) && "last" in raw.window) {
    if (raw.reset === true) found.push(...rollingResetIssues(raw));
  } else if (raw.reset === true) {
    found.push({
      severity: "warning",
      rulePath: ["reset"],
      message:
        "reset only applies to lifetime rules (without window); it is ignored on this window rule: remove it",
    });
  }
  // Checked on the raw input: zod's records skip a `__proto__` key without an issue.
  if (isRecord(raw.where) && Object.hasOwn(raw.where, "__proto__")) {
    const event = typeof raw.event === "string" ? raw.event : "matching";
    const message = attributeNameProblem("__proto__", event);
    if (message !== undefined) found.push({ severity: "error", rulePath: ["where", "__proto__"], message });
  }
  const action = raw.action;
  if (isRecord(action) && action.type === "attribute") {
    const limits = [
      ["name", PINPOINT_MAX_ATTRIBUTE_NAME_LENGTH],
      ["value", PINPOINT_MAX_ATTRIBUTE_VALUE_LENGTH],
    ] as const;
    for (const [key, limit] of limits) {
      const value = action[key];
      if (typeof value === "string" && charCount(value) > limit) {
        found.push({
          severity: "warning",
          rulePath: ["action", key],
          message: `the attribute ${key} is ${charCount(value)} characters long but Pinpoint accepts at most ${limit}, so setting it may fail; shorten it`,
        });
      }
    }
  }
  return found;
}

/**
 * Checks a parsed rules document (a list of rules, or `{ rules: [...] }`) and reports every
 * problem; never throws. `validateRules` is the throwing front end.
 */
export function checkRules(input: unknown): CheckedRules {
  const issues: CheckedIssue[] = [];
  const rules: Rule[] = [];
  let list: readonly unknown[];
  let prefix: DocumentPath = [];
  const topLevel = (path: DocumentPath, message: string) =>
    issues.push({ severity: "error", path, rulePath: path, message });
  if (Array.isArray(input)) {
    list = input;
  } else if (isRecord(input) && "rules" in input) {
    for (const key of Object.keys(input)) {
      if (key !== "rules") topLevel([key], unknownKeyMessage(key, ["rules"], "file"));
    }
    if (!Array.isArray(input.rules)) {
      topLevel(["rules"], `must be a list of rules, got ${describeValue(input.rules)}`);
      return { rules, issues };
    }
    list = input.rules;
    prefix = ["rules"];
  } else {
    topLevel(
      [],
      `expected a list of rules (or a mapping with a "rules" list), got ${describeValue(input)}; start each rule with "- id: ..."`,
    );
    return { rules, issues };
  }

  const firstIndexOfId = new Map<string, number>();
  const indexed: { index: number; rule: Rule }[] = [];
  list.forEach((raw, index) => {
    const ruleIssue = (
      severity: "error" | "warning",
      rulePath: DocumentPath,
      message: string,
      ruleId?: string,
    ) =>
      issues.push({
        severity,
        path: [...prefix, index, ...rulePath],
        ruleIndex: index,
        rulePath,
        ...(ruleId === undefined ? {} : { ruleId }),
        message,
      });
    if (!isRecord(raw)) {
      ruleIssue(
        "error",
        [],
        `each rule must be a mapping (id, event, count/sum, action...), got ${describeValue(raw)}`,
      );
      return;
    }
    const ruleId = typeof raw.id === "string" && raw.id !== "" ? raw.id : undefined;
    const parsed = canonicalRuleSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        for (const { rulePath, message } of zodIssuesOf(issue, raw))
          ruleIssue("error", rulePath, message, ruleId);
      }
    }
    for (const { severity, rulePath, message } of crossFieldIssues(raw)) {
      ruleIssue(severity, rulePath, message, ruleId);
    }
    if (ruleId !== undefined) {
      const first = firstIndexOfId.get(ruleId);
      if (first === undefined) firstIndexOfId.set(ruleId, index);
      else {
        ruleIssue(
          "error",
          ["id"],
          `duplicate id ${describeValue(ruleId)}: rules[${first}] has it too; every rule needs its own id`,
          ruleId,
        );
      }
    }
    if (parsed.success) {
      rules.push(toRule(parsed.data));
      indexed.push({ index, rule: rules[rules.length - 1] as Rule });
    }
  });
  for (const { index, ruleId, message } of sharedAttributeIssues(indexed)) {
    const rulePath = ["action", "name"];
    issues.push({
      severity: "warning",
      path: [...prefix, index, ...rulePath],
      ruleIndex: index,
      rulePath,
      ruleId,
      message,
    });
  }
  return { rules, issues };
}

function formatPath(path: DocumentPath): string {
  return path
    .map((key, position) => {
      if (typeof key === "number") return `[${key}]`;
      if (/^[A-Za-z_$][\w$-]*$/.test(key)) return position === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join("");
}

/** The field of an issue as users read it: `rules[2].count.op`, whatever the document's form. */
export function issueField(issue: CheckedIssue): string | undefined {
  if (issue.ruleIndex === undefined)
    return issue.rulePath.length === 0 ? undefined : formatPath(issue.rulePath);
  return formatPath(["rules", issue.ruleIndex, ...issue.rulePath]);
}

/**
 * Validates canonical rules (docs/rules.md section 1.1): a list of rules or `{ rules: [...] }`.
 * Returns the rules with defaults applied and the warnings; throws `InvalidRulesError` listing
 * every error (and warning) when there is any error. `lineOf` locates issues in the file.
 */
export function validateRules(input: unknown, lineOf?: LineOf, source?: string): LoadedRules {
  const { rules, issues } = checkRules(input);
  const ruleIssues = issues.map((issue): RuleIssue => {
    const line = lineOf?.([...issue.path]);
    const field = issueField(issue);
    return {
      severity: issue.severity,
      ...(line === undefined ? {} : { line }),
      ...(field === undefined ? {} : { field }),
      ...(issue.ruleId === undefined ? {} : { ruleId: issue.ruleId }),
      message: issue.message,
    };
  });
  // In file order when the lines are known (the sort is stable: issues of a line keep their order).
  if (lineOf !== undefined) ruleIssues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (ruleIssues.some((issue) => issue.severity === "error")) throw new InvalidRulesError(ruleIssues, source);
  return { rules, warnings: ruleIssues };
}
