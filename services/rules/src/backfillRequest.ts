import type { BackfillJob, BackfillMode, BackfillProgress, BackfillState } from "@pia/aws";
import type { Rule } from "@pia/core";
import { counterKey } from "@pia/core";
import { BadRequestError, type FieldIssue, InvalidRuleError } from "./errors.js";
import type { RuleStore } from "./ports.js";
import { validateRule } from "./validateRule.js";

// A change's `backfill` field (docs/rules.md section 9): whether a new counting also counts the
// events already stored, as if the rule had been live since the oldest one. The rules table owns
// the job (@pia/aws); the API only asks for it and shows where it is.

/** What a request may say: `off` (the default) writes the rule alone. */
export const BACKFILL_CHOICES = ["off", "notify", "silent"] as const;

const CHOICES_TEXT = `"off" (the default: count from now on), "notify" (also count the stored events; users who already qualify are notified once) or "silent" (also count the stored events; nobody is notified for them)`;

function backfillIssue(value: unknown): FieldIssue {
  return { path: "backfill", message: `is ${JSON.stringify(value) ?? "undefined"}: use ${CHOICES_TEXT}` };
}

/** The backfill mode a `backfill` value asks for (undefined: off); the issue when it is not a choice. */
function modeOf(value: unknown): { mode?: BackfillMode; issue?: FieldIssue } {
  if (value === undefined || value === "off") return {};
  if (value === "notify" || value === "silent") return { mode: value };
  return { issue: backfillIssue(value) };
}

/**
 * A create's or update's body: the draft rule and its `backfill` (taken out of the draft, which is
 * strict about unknown keys). An invalid `backfill` is an `InvalidRuleError` that also lists the
 * draft's own errors, so that one answer names every field to fix.
 */
export function readBackfillRequest(body: unknown): { backfill?: BackfillMode; draft: unknown } {
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("backfill" in body)) {
    return { draft: body };
  }
  const { backfill, ...draft } = body as Record<string, unknown>;
  const { mode, issue } = modeOf(backfill);
  if (issue === undefined) return { ...(mode === undefined ? {} : { backfill: mode }), draft };
  let errors: readonly FieldIssue[] = [];
  let warnings: readonly FieldIssue[] = [];
  try {
    warnings = validateRule(draft).warnings;
  } catch (error: unknown) {
    if (!(error instanceof InvalidRuleError)) throw error;
    ({ errors, warnings } = error);
  }
  throw new InvalidRuleError([issue, ...errors], warnings);
}

/**
 * A restore's optional body, `{ "backfill": "notify" }`: a restore takes no rule, so any other key
 * is refused. No body: no backfill.
 */
export function readRestoreBody(body: unknown): { backfill?: BackfillMode } {
  if (body === undefined) return {};
  const { backfill, ...rest } = (
    typeof body === "object" && body !== null && !Array.isArray(body) ? body : { "(the body)": body }
  ) as Record<string, unknown>;
  const unknownKeys = Object.keys(rest);
  if (unknownKeys.length > 0) {
    throw new BadRequestError(
      `a restore's body may only say { "backfill": "off" | "notify" | "silent" } (unknown: ${unknownKeys.join(", ")})`,
    );
  }
  const { mode, issue } = modeOf(backfill);
  if (issue !== undefined) throw new InvalidRuleError([issue]);
  return mode === undefined ? {} : { backfill: mode };
}

/** A counting's backfill as the API shows it: instants as ISO 8601 UTC, absent until set. */
export interface BackfillStatus {
  readonly state: BackfillState;
  readonly mode: BackfillMode;
  readonly requestedAt: string;
  readonly requestedBy?: string;
  /** Events that arrived from this instant on are counted live; earlier ones are history. */
  readonly boundary?: string;
  /** From this instant the history is complete and users' histories are merged. */
  readonly settledAt?: string;
  readonly progress: BackfillProgress;
  readonly finishedAt?: string;
}

const isoOf = (at: number | undefined) => (at === undefined ? undefined : new Date(at).toISOString());

export function backfillStatus(job: BackfillJob): BackfillStatus {
  const boundary = isoOf(job.boundary);
  const settledAt = isoOf(job.settledAt);
  const finishedAt = isoOf(job.finishedAt);
  return {
    state: job.state,
    mode: job.mode,
    requestedAt: new Date(job.requestedAt).toISOString(),
    ...(job.requestedBy === undefined ? {} : { requestedBy: job.requestedBy }),
    ...(boundary === undefined ? {} : { boundary }),
    ...(settledAt === undefined ? {} : { settledAt }),
    progress: { ...job.progress },
    ...(finishedAt === undefined ? {} : { finishedAt }),
  };
}

/**
 * The backfill of a rule's current counting, if one was requested. Read after the rule: a job is
 * stored with (or before) its rule, so a rule read first never misses its backfill.
 */
export async function backfillOfRule(store: RuleStore, rule: Rule): Promise<BackfillStatus | undefined> {
  const job = await store.backfill(counterKey(rule));
  return job === undefined ? undefined : backfillStatus(job);
}

/** Every backfill by counter key, read once for a list of rules (read after the rules, as above). */
export async function backfillsByCounterKey(store: RuleStore): Promise<Map<string, BackfillStatus>> {
  return new Map((await store.backfills()).map((job) => [job.counterKey, backfillStatus(job)]));
}
