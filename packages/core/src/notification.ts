/** What every sink receives (RULES.md section 5). */
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
