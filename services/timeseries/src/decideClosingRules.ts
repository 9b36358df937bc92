import {
  counterStateOf,
  deliverPending,
  notificationId,
  type PendingDelivery,
  pendingMessages,
  toMessageBody,
} from "@pia/aws";
import { advanceClock, compileRule, counterKey, isClosingDue, makeNotification } from "@pia/core";
import type {
  ClearPending,
  CountersOfRule,
  Decisions,
  FireCounter,
  LoadRules,
  Log,
  ReadCounter,
  SendMessages,
} from "./ports.js";

export interface DecideClosingDeps {
  readonly loadRules: LoadRules;
  readonly countersOfRule: CountersOfRule;
  readonly readCounter: ReadCounter;
  readonly fireCounter: FireCounter;
  readonly sendMessages: SendMessages;
  readonly clearPending: ClearPending;
  readonly decisions: Decisions;
  readonly log: Log;
  readonly maxConflictRetries?: number;
}

export interface ClosingCounts {
  readonly rulesDecided: number;
  readonly countersRead: number;
  readonly notifications: number;
}

/**
 * Decides every closing rule whose window has closed at `now`, once: for each user with at least
 * one matching event in the window, on the window's totals. Each firing is stored on its counter
 * (fired + pending message) by a conditional write before it is sent, and the rule is recorded as
 * decided only after every counter was handled: a crash part-way is finished by the next run,
 * which re-sends what is still pending and fires nothing twice.
 */
export function makeDecideClosingRules(deps: DecideClosingDeps): (now: number) => Promise<ClosingCounts> {
  const maxRetries = deps.maxConflictRetries ?? 5;
  return async (now) => {
    let rulesDecided = 0;
    let countersRead = 0;
    let notifications = 0;
    for (const rule of await deps.loadRules()) {
      if (!rule.enabled) continue;
      const compiled = compileRule(rule);
      if (!isClosingDue(compiled, now)) continue;
      const key = counterKey(rule);
      if (await deps.decisions.has(key)) continue;
      for await (const page of deps.countersOfRule(key)) {
        const deliveries: PendingDelivery[] = [];
        for (const listed of page) {
          countersRead++;
          let item: typeof listed | undefined = listed;
          for (let attempt = 0; item !== undefined; attempt++) {
            if (item.fired) {
              // Fired by an earlier run that did not get to confirm the send.
              if ((item.pending ?? []).length > 0)
                deliveries.push({ key: item, rev: item.rev, messages: pendingMessages(item.pending) });
              break;
            }
            const [firing] = advanceClock(compiled, counterStateOf(item), now).firings;
            if (firing === undefined) break;
            const id = notificationId(item, "closing");
            const sink = rule.action.sink === undefined ? {} : { sink: rule.action.sink };
            const body = toMessageBody({
              id,
              notification: makeNotification(rule, item, firing.at),
              ...sink,
            });
            if (await deps.fireCounter(item, body)) {
              deliveries.push({ key: item, rev: item.rev + 1, messages: [{ id, body }] });
              break;
            }
            if (attempt >= maxRetries) {
              throw new Error(
                `closing rule ${rule.id}: a counter kept changing during the decision; run again`,
              );
            }
            // The index is eventually consistent and aggregate may have just written: read it again.
            item = await deps.readCounter(item);
          }
        }
        notifications += await deliverPending(deliveries, deps.sendMessages, deps.clearPending);
      }
      await deps.decisions.record(key, now);
      rulesDecided++;
      deps.log.info("closing rule decided", { ruleId: rule.id });
    }
    return { rulesDecided, countersRead, notifications };
  };
}
