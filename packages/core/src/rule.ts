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
  readonly window?: DateWindow;
  readonly action: RuleAction;
  /** Lifetime rules only: fire again each time the target is reached anew. */
  readonly reset: boolean;
  readonly enabled: boolean;
}
