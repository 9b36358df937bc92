import type { Rule } from "./rule.js";

/** What every sink receives (docs/rules.md section 5). */
export interface Notification {
  readonly appId: string;
  readonly userId: string;
  readonly ruleId: string;
  readonly type: "attribute" | "event";
  readonly name: string;
  /** Attributes only. */
  readonly value?: string;
  /** ISO 8601 UTC with milliseconds: the firing event's time, or the window's last millisecond. */
  readonly at: string;
  /** The endpoint of the firing event, when known (sinks may address it). */
  readonly endpointId?: string;
}

/** The notification of a rule firing for one user at `at` (epoch ms). */
export function makeNotification(
  rule: Rule,
  target: { readonly appId: string; readonly userId: string; readonly endpointId?: string | undefined },
  at: number,
): Notification {
  const { action } = rule;
  return {
    appId: target.appId,
    userId: target.userId,
    ruleId: rule.id,
    type: action.type,
    name: action.name,
    ...(action.type === "attribute" ? { value: action.value } : {}),
    at: new Date(at).toISOString(),
    ...(target.endpointId === undefined ? {} : { endpointId: target.endpointId }),
  };
}

/** One NDJSON line of the file sink: exactly the contract's fields, in the contract's order. */
export function formatNotification(notification: Notification): string {
  const { appId, userId, ruleId, type, name, value, at } = notification;
  return JSON.stringify({ appId, userId, ruleId, type, name, value, at });
}
