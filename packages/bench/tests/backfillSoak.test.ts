import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackfillMode } from "@pia/aws";
import type { Notification, Rule } from "@pia/core";
import { DAY_MS, Engine, isRollingWindow, parseRecord } from "@pia/core";
import { LocalPipeline } from "@pia/local-runtime";
import { describe, expect, it } from "vitest";
import { sampleRules } from "../src/sampleRules.js";
import { SOAK_FAULTS } from "../src/soakPipeline.js";
import { generateSoakRound } from "../src/soakRound.js";

/*
 * Backfill under the soak's faults (docs/rules.md section 9): rules pushed with a backfill part-way
 * through a stream of events, with live batches interleaved with the backfill job's runs, must give
 * what `pia simulate` (the engine) gives over all the events, with the history's firings collapsed
 * as section 9 says.
 */

const SETTINGS = { seed: 11, eventsPerRound: 250, daysPerRound: 10 };
const ROUNDS = 7;

/** A rule counted from history: its own id and attribute, beside the live original. */
const backfilledVersion = (rule: Rule, suffix: string): Rule => ({
  ...rule,
  id: `${rule.id}${suffix}`,
  action: { ...rule.action, name: `${rule.action.name}${suffix}` },
});

const describeNotification = (n: Notification) =>
  JSON.stringify({
    ruleId: n.ruleId,
    appId: n.appId,
    userId: n.userId,
    at: n.at,
    name: n.name,
    value: n.value,
  });

/** Each round's records in event-time order (history is replayed so), malformed ones where they were. */
function roundLines(index: number): { lines: string[]; now: number } {
  const { lines, now } = generateSoakRound(SETTINGS, index);
  const time = (line: string) => {
    const outcome = parseRecord(line);
    return outcome.kind === "event" ? outcome.event.timestamp : 0;
  };
  return { lines: [...lines].sort((a, b) => time(a) - time(b)), now };
}

describe("backfill, interleaved with live batches, under the soak's faults", () => {
  it("equals the engine over all the events: history collapsed to one notification per user, then live", async () => {
    const base = sampleRules().filter((rule) => rule.window === undefined || !isRollingWindow(rule.window));
    const notify = base.map((rule) => backfilledVersion(rule, "_bf"));
    const silent = base.map((rule) => backfilledVersion(rule, "_bs"));
    const modes = new Map<string, BackfillMode>([
      ...notify.map((rule) => [rule.id, "notify"] as const),
      ...silent.map((rule) => [rule.id, "silent"] as const),
    ]);

    const dir = await mkdtemp(join(tmpdir(), "pia-backfill-"));
    const out = join(dir, "notifications.ndjson");
    const clock = { now: Date.UTC(2021, 0, 1) };
    const engine = new Engine([...base, ...notify, ...silent]);
    const expected: string[] = [];
    /** Per backfilled (rule, user): the history's last firing (notify) or none (silent). */
    const historyLast = new Map<string, Notification>();
    let historyOpen = true;
    const expect_ = (notifications: Notification[]) => {
      for (const n of notifications) {
        const mode = modes.get(n.ruleId);
        if (mode !== undefined && historyOpen) {
          if (mode === "notify") historyLast.set(`${n.ruleId}|${n.appId}|${n.userId}`, n);
        } else {
          expected.push(describeNotification(n));
        }
      }
    };

    const pipeline = await LocalPipeline.start({
      rules: base,
      out,
      kinesisBatchSize: 100,
      streamBatchSize: 50,
      faults: SOAK_FAULTS,
      previewIndex: true,
      clock: () => clock.now,
      rulesCacheSeconds: 60,
      // The clock is in 2021: events must outlive DynamoDB Local's TTL, which goes by the real time.
      eventRetentionDays: 20 * 365,
      // A boundary a round after the job sets it, settled a round later: rounds of history, of held
      // matches, then of live events merged as they come, while the job works in small steps.
      backfill: {
        liveDelaySeconds: (10 * DAY_MS) / 1000,
        settleSeconds: (10 * DAY_MS) / 1000,
        pagesPerRun: 250,
      },
    });
    try {
      const rulesTable = pipeline.rulesTable({ now: () => clock.now });
      let boundary: number | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        const { lines, now } = roundLines(round);
        // Events arrive just after their days: the stamp is the round's end.
        clock.now = now;
        if (boundary !== undefined && clock.now >= boundary) historyOpen = false;
        for (const line of lines) expect_(engine.ingest(line));
        await pipeline.feed(lines);
        await pipeline.drain();
        if (round === 1) {
          // Pushed after two rounds: everything so far, and the next round, is history.
          await rulesTable.put([...base, ...notify], { backfill: { mode: "notify" } });
          await rulesTable.put([...base, ...notify, ...silent], { backfill: { mode: "silent" } });
        }
        clock.now = now + 1000;
        await pipeline.runSchedule(clock.now);
        const jobs = await rulesTable.backfills.list();
        boundary ??= jobs.find((job) => job.boundary !== undefined)?.boundary;
      }
      // The job runs on until every backfill is done; then every window has closed.
      for (let run = 0; run < 200; run++) {
        const jobs = await rulesTable.backfills.list();
        if (jobs.every((job) => job.state === "done")) break;
        clock.now += 5 * 60_000;
        await pipeline.runSchedule(clock.now);
      }
      const jobs = await rulesTable.backfills.list();
      expect(jobs).toHaveLength(notify.length + silent.length);
      for (const job of jobs) expect(job.state, job.ruleId).toBe("done");
      clock.now = Date.UTC(2022, 0, 1);
      expect_(engine.close(clock.now));
      await pipeline.runSchedule(clock.now);
      expected.push(...[...historyLast.values()].map(describeNotification));
      // A silent backfill records, without notifying, a closing window that closed before its boundary.
      const closedBefore = (n: Notification) =>
        modes.get(n.ruleId) === "silent" && boundary !== undefined && Date.parse(n.at) + 1 <= boundary;
      const wanted = expected.filter((text) => !closedBefore(JSON.parse(text)));

      const delivered = (await readFile(out, "utf8"))
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => describeNotification(JSON.parse(line) as Notification));
      const summary = await pipeline.summary();
      // Every part of the handover happened: history merged by the job and by aggregate, matches held.
      expect(jobs.reduce((total, job) => total + job.progress.merged, 0)).toBeGreaterThan(0);
      expect(summary.aggregate.historyMerged).toBeGreaterThan(0);
      expect(summary.aggregate.history).toBeGreaterThan(0);
      expect(summary.faultsInjected).toBeGreaterThan(0);
      expect(historyLast.size).toBeGreaterThan(5);
      expect(delivered.sort()).toEqual(wanted.sort());
      expect(summary.onFailure).toMatchObject({ kinesis: 0, stream: 0 });
    } finally {
      await pipeline.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
