/** Comparison operators of canonical rules (docs/rules.md section 1.1). */
export const OPERATORS = [">", ">=", "=", "<", "<="] as const;
export type Operator = (typeof OPERATORS)[number];

export interface CountCondition {
  readonly op: Operator;
  /** Whole number >= 0. */
  readonly value: number;
}

export interface SumCondition {
  /** Metric to sum; absent means the event's first metric in record order (CSV rules without MetricName). */
  readonly metric?: string;
  readonly op: Operator;
  /** Exact decimal text, e.g. `180.5` or `-3`. */
  readonly value: string;
}

/** Inclusive UTC dates, `YYYY-MM-DD`. */
export interface DateWindow {
  readonly from: string;
  readonly to: string;
}

/**
 * A rolling window (docs/rules.md section 4.4): the events of the last `last`, a whole number and a
 * unit, `d` or `h` (`7d`, `36h`), from `1h` to `400d`. Measured to the millisecond, not by UTC date.
 */
export interface RollingWindow {
  readonly last: string;
}

export type RuleWindow = DateWindow | RollingWindow;

/** Whether a window is a rolling one (`last`) rather than a date range. */
export function isRollingWindow(window: RuleWindow | undefined): window is RollingWindow {
  return window !== undefined && "last" in window;
}

const HOUR_MS = 3_600_000;
const UNIT_MS: Readonly<Record<string, number>> = { h: HOUR_MS, d: 24 * HOUR_MS };
/** The longest rolling window, 400 days: enough for a year and a season, small enough to hold. */
export const MAX_ROLLING_MS = 400 * 24 * HOUR_MS;

/**
 * The length in milliseconds of a rolling window's `last` (`7d`, `36h`), or undefined when the text
 * is not a whole number without leading zeros followed by `d` or `h`, or lies outside 1h..400d.
 */
export function rollingLengthMs(last: string): number | undefined {
  const parsed = /^([1-9]\d{0,5})([dh])$/.exec(last);
  if (parsed === null) return undefined;
  const length = Number(parsed[1]) * (UNIT_MS[parsed[2] ?? ""] ?? Number.NaN);
  return length >= HOUR_MS && length <= MAX_ROLLING_MS ? length : undefined;
}

/** Where a notification can go; a rule may pick one (`action.sink`), else the stage's default. */
export const SINK_NAMES = ["file", "pinpoint", "customer-profiles", "eventbridge", "webhook"] as const;
export type SinkName = (typeof SINK_NAMES)[number];

export type RuleAction =
  | { readonly type: "attribute"; readonly name: string; readonly value: string; readonly sink?: SinkName }
  | { readonly type: "event"; readonly name: string; readonly sink?: SinkName };

/** A canonical rule, as the rules table stores it and as every RuleSource yields it. */
export interface Rule {
  readonly id: string;
  readonly event: string;
  readonly where?: Readonly<Record<string, string>>;
  readonly count?: CountCondition;
  readonly sum?: SumCondition;
  readonly window?: RuleWindow;
  readonly action: RuleAction;
  /**
   * Lifetime rules, and rolling rules with only `>`/`>=` and an event action: fire again each time
   * the target is reached anew.
   */
  readonly reset: boolean;
  readonly enabled: boolean;
}
