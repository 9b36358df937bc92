import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Notification, PiaEvent, Rule } from "@pia/core";
import { DAY_MS, Engine, isRollingWindow, parseRecord } from "@pia/core";
import { LocalPipeline } from "@pia/local-runtime";
import { generateSampleEvents } from "@pia/sample";
import type { DynamoDbCost } from "./measurePipeline.js";
import { costBetween } from "./measureRolling.js";
import { sampleRules } from "./sampleRules.js";

/** What `bench:backfill` measures: counting stored history against counting the same events live. */
export interface BackfillBenchResult {
  readonly events: number;
  readonly users: number;
  readonly rules: number;
  /** Applying the events live (ingest, aggregate, notifier) with the rules pushed first, per 1,000 events. */
  readonly livePerThousandEvents: DynamoDbCost;
  /** The backfill job over the same events already stored, rules pushed after, per 1,000 events. */
  readonly backfillPerThousandEvents: DynamoDbCost;
  /** History items the job read (each user's whole stored history, once per rule). */
  readonly eventsRead: number;
  readonly usersMerged: number;
  /** Schedule runs the job took, and its wall time from the first run to done. */
  readonly runs: number;
  readonly wallMs: number;
  /** Notifications the backfill sent, and what the engine gives (history collapsed, docs/rules.md 9). */
  readonly notifications: { readonly backfill: number; readonly expected: number };
}

export interface BackfillBenchOptions {
  readonly events: number;
  readonly users: number;
  readonly days?: number;
  readonly seed?: number;
  readonly onProgress?: (phase: string, done: number) => void;
}

const START = Date.parse("2021-01-01T00:00:00Z");

/** The notifications a backfill of `rules` over `events` should send: each user's last history firing. */
function expectedNotifications(rules: readonly Rule[], events: readonly PiaEvent[], now: number): number {
  const engine = new Engine(rules);
  const last = new Map<string, Notification>();
  const ordered = [...events].sort((a, b) => a.timestamp - b.timestamp || (a.identity < b.identity ? -1 : 1));
  // A redelivered record is one stored event (of its user: the table is keyed by user and identity).
  const seen = new Set<string>();
  for (const event of ordered) {
    const key = JSON.stringify([event.appId, event.userId, event.identity]);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const n of engine.apply(event)) last.set(`${n.ruleId}|${n.appId}|${n.userId}`, n);
  }
  // Closing rules: decided once their window has closed, after the backfill.
  return last.size + engine.close(now).length;
}

async function lineCount(file: string): Promise<number> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.split("\n").filter((line) => line.trim() !== "").length;
}

/**
 * Two local pipelines on the same sample records (in event-time order) and the same rules (the
 * sample's lifetime and date-window rules): one has the rules from the start and counts the events
 * live; the other stores the events first and then backfills the rules, the job running until done.
 * Both are tallied by the same counting middleware as `bench:pipeline`.
 */
export async function measureBackfill(options: BackfillBenchOptions): Promise<BackfillBenchResult> {
  const days = options.days ?? 30;
  const lines = [
    ...generateSampleEvents({ users: options.users, events: options.events, seed: options.seed ?? 42, days }),
  ];
  const events = lines.flatMap((line) => {
    const outcome = parseRecord(line);
    return outcome.kind === "event" ? [outcome.event] : [];
  });
  const time = (line: string) => Number(/"event_timestamp":\s*(\d+)/.exec(line)?.[1] ?? 0);
  const ordered = [...lines].sort((a, b) => time(a) - time(b));
  const rules = sampleRules().filter((rule) => rule.window === undefined || !isRollingWindow(rule.window));
  // The clock: after the records, and after every window has closed.
  const clock = { now: START + (days + 200) * DAY_MS };
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-backfill-"));
  const start = (name: string, pipelineRules: readonly Rule[]) =>
    LocalPipeline.start({
      rules: pipelineRules,
      out: join(dir, `${name}.ndjson`),
      kinesisBatchSize: 1000,
      streamBatchSize: 1000,
      previewIndex: true,
      clock: () => clock.now,
      eventRetentionDays: 20 * 365,
      rulesCacheSeconds: 1,
      backfill: { liveDelaySeconds: 2, settleSeconds: 2 },
    });
  try {
    const live = await start("live", rules);
    let livePerThousandEvents: DynamoDbCost;
    try {
      await live.feed(ordered);
      await live.drain();
      livePerThousandEvents = costBetween((await live.summary()).cost.dynamodb, zero(), options.events);
      options.onProgress?.("live", options.events);
    } finally {
      await live.stop();
    }

    const history = await start("backfill", []);
    try {
      await history.feed(ordered);
      await history.drain();
      const before = { ...(await history.summary()).cost.dynamodb };
      const table = history.rulesTable({ now: () => clock.now });
      await table.put(rules, { backfill: { mode: "notify" } });
      const started = performance.now();
      let runs = 0;
      for (; runs < 10_000; runs++) {
        const jobs = await table.backfills.list();
        if (jobs.length > 0 && jobs.every((job) => job.state === "done")) break;
        await history.runSchedule(clock.now);
        // The next run comes a scheduled period later (past the delays, settled and margins).
        clock.now += 5 * 60_000;
        options.onProgress?.("backfill runs", runs + 1);
      }
      // Closing rules are decided by the run after their backfill is done.
      await history.runSchedule(clock.now);
      const wallMs = performance.now() - started;
      const summary = await history.summary();
      return {
        events: options.events,
        users: options.users,
        rules: rules.length,
        livePerThousandEvents,
        backfillPerThousandEvents: costBetween(summary.cost.dynamodb, before, options.events),
        eventsRead: summary.backfill.eventsRead ?? 0,
        usersMerged: summary.backfill.usersMerged ?? 0,
        runs,
        wallMs: Math.round(wallMs),
        notifications: {
          backfill: await lineCount(join(dir, "backfill.ndjson")),
          expected: expectedNotifications(rules, events, clock.now),
        },
      };
    } finally {
      await history.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const zero = () => ({ requests: 0, readUnits: 0, writeUnits: 0 });
