import type { Rule } from "@pia/core";

/** A rolling rule for the store's and the schedule's tests: more than 2 sessions in the last hour. */
export const BUSY_RULE: Rule = {
  id: "busy",
  event: "session",
  count: { op: ">", value: 2 },
  window: { last: "1h" },
  action: { type: "attribute", name: "busy", value: "Ready" },
  reset: false,
  enabled: true,
};
