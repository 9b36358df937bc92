import {
  type BackfillJob,
  counterStateOf,
  deliverPending,
  isRollingItem,
  notificationId,
  type PendingDelivery,
  pendingMessages,
  toMessageBody,
} from "@pia/aws";
import {
  advanceClock,
  type CompiledRule,
  compileRule,
  counterKey,
  isClosingDue,
  makeNotification,
  type Rule,
} from "@pia/core";
import type {
  ClearPending,
  Clock,
  CountersOfRule,
  Decisions,
  FireCounter,
  LoadRules,
  Log,
  ReadCounter,
  ScheduleRun,
  SendMessages,
} from "./ports.js";

/** Attempts to give a claim back after a failure. */
const RELEASE_ATTEMPTS = 3;

export interface DecideClosingDeps {
  readonly loadRules: LoadRules;
  readonly countersOfRule: CountersOfRule;
  readonly readCounter: ReadCounter;
  readonly fireCounter: FireCounter;
  readonly sendMessages: SendMessages;
  readonly clearPending: ClearPending;
  readonly decisions: Decisions;
  /** The backfill jobs (the rules table's), read once per run: a closing rule waits for its counting's. */
  readonly loadBackfills: () => Promise<readonly BackfillJob[]>;
  /** The wall clock, which claims on decisions expire by. */
  readonly clock: Clock;
  readonly log: Log;
  readonly maxConflictRetries?: number;
}

export interface ClosingCounts {
  readonly rulesDecided: number;
  /**
   * Of `rulesDecided`, those recorded without deciding their counters: a silent backfill's rule
   * whose window closed before the backfill's boundary (its closing is history, which silent
   * backfills never notify).
   */
  readonly rulesDecidedSilently: number;
  /** Closing rules left for a later run: their counting's backfill is not done. */
  readonly rulesAwaitingBackfill: number;
  readonly countersRead: number;
  readonly notifications: number;
}

/**
 * Decides every closing rule whose window has closed at `now`, once: for each user with at least
 * one matching event in the window, on the window's totals. Each firing is stored on its counter
 * (fired + pending message) by a conditional write before it is sent, and the rule is recorded as
 * decided only after every counter was handled: a crash part-way is finished by the next run,
 * which re-sends what is still pending and fires nothing twice.
 *
 * Runs may overlap (nothing stops the schedule from starting one while the last is still going).
 * A run claims a rule before deciding it (`Decisions.claim`, a conditional write) and skips the
 * rules another run holds: otherwise both would send the messages pending between a firing and its
 * send, and one could record the rule as decided while the other's firings were not yet sent, which
 * no later run would then finish if the other died. The claim lasts until the run's deadline, and a
 * run that fails gives it back.
 *
 * A rule whose counting is being backfilled (docs/rules.md section 9) is not decided until the
 * backfill is done: before that, its counters lack their users' history. Once done, a silent
 * backfill's rule whose window closed before the boundary is recorded as decided without firing
 * anything (that closing belongs to the history, whose firings silent backfills never send).
 */
export function makeDecideClosingRules(
  deps: DecideClosingDeps,
): (now: number, run: ScheduleRun) => Promise<ClosingCounts> {
  const maxRetries = deps.maxConflictRetries ?? 5;

  /** Fires and sends what the rule decides for its counters; the number of messages sent. */
  const decideCounters = async (rule: Rule, compiled: CompiledRule, key: string, now: number) => {
    let countersRead = 0;
    let notifications = 0;
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
          const fresh = await deps.readCounter(item);
          item = isRollingItem(fresh) ? undefined : fresh;
        }
      }
      notifications += await deliverPending(deliveries, deps.sendMessages, deps.clearPending);
    }
    return { countersRead, notifications };
  };

  /**
   * Gives a claim back after a failure, trying a few times (the failure may be DynamoDB's, and so
   * may the first release): a claim left behind holds the rule until the run's deadline.
   */
  const giveBack = async (key: string, run: ScheduleRun, ruleId: string) => {
    for (let attempt = 1; attempt <= RELEASE_ATTEMPTS; attempt++) {
      try {
        await deps.decisions.release(key, run);
        return;
      } catch {
        // Tried again; the run's own error is the one it throws.
      }
    }
    deps.log.warn("a failed run could not give its claim back: the rule waits for the claim's deadline", {
      ruleId,
    });
  };

  return async (now, run) => {
    let rulesDecided = 0;
    let rulesDecidedSilently = 0;
    let rulesAwaitingBackfill = 0;
    let countersRead = 0;
    let notifications = 0;
    const rules = await deps.loadRules();
    const backfills = new Map((await deps.loadBackfills()).map((job) => [job.counterKey, job]));
    for (const rule of rules) {
      if (!rule.enabled) continue;
      const compiled = compileRule(rule);
      // Rolling rules are never closing-due: their expiries are decided per state (decideRollingExpiries).
      if (!isClosingDue(compiled, now)) continue;
      const key = counterKey(rule);
      const backfill = backfills.get(key);
      if (backfill !== undefined && backfill.state !== "done") {
        rulesAwaitingBackfill++;
        deps.log.info("closing rule waits for its backfill", { ruleId: rule.id, state: backfill.state });
        continue;
      }
      const silent = backfill !== undefined && closedInSilentHistory(compiled, backfill);
      let claim: Awaited<ReturnType<Decisions["claim"]>>;
      try {
        claim = await deps.decisions.claim(key, run, deps.clock());
      } catch (error: unknown) {
        // The claim may have been written before the error (a lost response): give it back, or it
        // would hold the rule until this run's deadline, and the next run would leave it alone.
        await giveBack(key, run, rule.id);
        throw error;
      }
      if (claim === "decided") continue;
      if (claim === "busy") {
        deps.log.info("closing rule left to the run deciding it", { ruleId: rule.id });
        continue;
      }
      let counts: { countersRead: number; notifications: number };
      try {
        counts = silent
          ? { countersRead: 0, notifications: 0 }
          : await decideCounters(rule, compiled, key, now);
      } catch (error: unknown) {
        await giveBack(key, run, rule.id);
        throw error;
      }
      countersRead += counts.countersRead;
      notifications += counts.notifications;
      if (await deps.decisions.record(key, run, now)) {
        rulesDecided++;
        if (silent) rulesDecidedSilently++;
        deps.log.info(
          silent ? "closing rule decided silently (backfilled history)" : "closing rule decided",
          {
            ruleId: rule.id,
          },
        );
      } else {
        // Its claim outlived the run's deadline, or the rule was removed and cleaned up meanwhile.
        deps.log.warn("closing rule decided, but its claim was lost: the next run checks it", {
          ruleId: rule.id,
        });
      }
    }
    return { rulesDecided, rulesDecidedSilently, rulesAwaitingBackfill, countersRead, notifications };
  };
}

/** A silent backfill's rule whose window closed before the boundary: its closing is history. */
function closedInSilentHistory(compiled: CompiledRule, backfill: BackfillJob): boolean {
  const close = compiled.kind === "rolling" ? undefined : compiled.windowEnd;
  return (
    backfill.mode === "silent" &&
    backfill.boundary !== undefined &&
    close !== undefined &&
    close <= backfill.boundary
  );
}
