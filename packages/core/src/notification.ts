import type { Rule } from "./rule.js";

/** What every sink receives (docs/rules.md section 5). */
export interface Notification {
  readonly appId: string;
  readonly userId: string;
  readonly ruleId: string;
  readonly type: "attribute" | "event";
  readonly name: string;
  /** Attributes only; `""` when a user leaves a rolling window (the sink removes the attribute). */
  readonly value?: string;
  /**
   * ISO 8601 UTC with milliseconds: the firing event's time, the window's last millisecond, or
   * (rolling windows) the instant of the entry or exit.
   */
  readonly at: string;
  /** Rolling windows only: the position among the (app, user, rule)'s notifications, 1, 2, ... */
  readonly seq?: number;
  /** The endpoint of the firing event, when known (sinks may address it). */
  readonly endpointId?: string;
}

/**
 * The notification of a rule firing for one user at `at` (epoch ms). A rolling rule's firing
 * brings its `seq` and, on exit, the attribute value `""`.
 */
export function makeNotification(
  rule: Rule,
  target: { readonly appId: string; readonly userId: string; readonly endpointId?: string | undefined },
  at: number,
  rolling?: { readonly seq: number; readonly value?: string },
): Notification {
  const { action } = rule;
  return {
    appId: target.appId,
    userId: target.userId,
    ruleId: rule.id,
    type: action.type,
    name: action.name,
    ...(action.type === "attribute" ? { value: rolling?.value ?? action.value } : {}),
    at: new Date(at).toISOString(),
    ...(rolling === undefined ? {} : { seq: rolling.seq }),
    ...(target.endpointId === undefined ? {} : { endpointId: target.endpointId }),
  };
}

/**
 * One NDJSON line of the file sink: exactly the contract's fields, in the contract's order, and
 * `seq` last for rolling windows (JSON leaves out the fields that are undefined).
 */
export function formatNotification(notification: Notification): string {
  const { appId, userId, ruleId, type, name, value, at, seq } = notification;
  return JSON.stringify({ appId, userId, ruleId, type, name, value, at, seq });
}
