import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, Engine, type Rule } from "@pia/core";
import { LocalPipeline } from "@pia/local-runtime";
import { generateSampleEvents } from "@pia/sample";
import type { DynamoDbCost } from "./measurePipeline.js";
import { rollingVersions, sampleRules } from "./sampleRules.js";

/** What `bench:rolling` measures: the same records and rules, fixed windows against rolling ones. */
export interface RollingBenchResult {
  readonly events: number;
  readonly users: number;
  readonly days: number;
  readonly window: string;
  /** Applying the events (ingest, aggregate, the notifier's share), per 1,000 events. */
  readonly perThousandEvents: { readonly fixed: DynamoDbCost; readonly rolling: DynamoDbCost };
  /** The scheduled runs of the rolling rules (one a day), with delivering what they decided. */
  readonly schedule: {
    readonly runs: number;
    /** States the runs found due (an event of theirs had expired) and brought to the run's instant. */
    readonly statesDue: number;
    /** Notifications the runs decided (exits, and entries of "fewer than" rules). */
    readonly decided: number;
    readonly exits: number;
    readonly cost: DynamoDbCost;
    /** Per 1,000 due states. */
    readonly perThousandDue: DynamoDbCost;
    /** Per 1,000 notifications the runs decided. */
    readonly perThousandDecided: DynamoDbCost;
    /** Wall time of a run that decided something, from its start to its notifications written. */
    readonly runMs: { readonly median: number; readonly max: number };
  };
  /** Notifications of each pipeline, and what `pia simulate` gives on the same records. */
  readonly notifications: {
    readonly fixed: number;
    readonly rolling: number;
    readonly simulatedFixed: number;
    readonly simulatedRolling: number;
  };
}

export interface RollingBenchOptions {
  readonly events: number;
  readonly users: number;
  readonly days?: number;
  readonly seed?: number;
  readonly onProgress?: (phase: string, done: number) => void;
}

const START = Date.parse("2021-01-01T00:00:00Z");
const WINDOW = "7d";

const roundTo = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

export function costBetween(
  after: { requests: number; readUnits: number; writeUnits: number },
  before: { requests: number; readUnits: number; writeUnits: number },
  per: number,
): DynamoDbCost {
  const scale = per === 0 ? 0 : 1000 / per;
  return {
    requests: roundTo((after.requests - before.requests) * scale, 1),
    readUnits: roundTo((after.readUnits - before.readUnits) * scale, 1),
    writeUnits: roundTo((after.writeUnits - before.writeUnits) * scale, 1),
  };
}

/** The records of each UTC day from START, each day's in input order. */
function byDay(lines: readonly string[]): string[][] {
  const days: string[][] = [];
  for (const line of lines) {
    const at = Number(/"event_timestamp":\s*(\d+)/.exec(line)?.[1]);
    const day = Number.isFinite(at) ? Math.max(0, Math.floor((at - START) / DAY_MS)) : 0;
    const list = days[day] ?? [];
    days[day] = list;
    list.push(line);
  }
  return Array.from(days, (day) => day ?? []);
}

async function lineCount(file: string): Promise<{ lines: number; exits: number }> {
  const text = await readFile(file, "utf8").catch(() => "");
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return { lines: lines.length, exits: lines.filter((line) => line.includes('"value":""')).length };
}

/**
 * Feeds the same sample records, a day at a time, to two local pipelines: the default rules (fixed
 * date windows and lifetime rules) and their rolling versions (`last: 7d`). After each day the
 * schedule runs at the day's end, as the deployed schedule would have by then. Applying the events
 * and the scheduled runs are tallied apart (the same counting middleware as `bench:pipeline`).
 */
export async function measureRolling(options: RollingBenchOptions): Promise<RollingBenchResult> {
  const days = options.days ?? 30;
  const lines = [
    ...generateSampleEvents({ users: options.users, events: options.events, seed: options.seed ?? 42, days }),
  ];
  const fixedRules = sampleRules();
  const rollingRules = rollingVersions(fixedRules, WINDOW);
  const daily = byDay(lines);
  // The days of the records, then a window's worth more, so that every state's events expire.
  const steps = daily.length + 8;
  const end = START + steps * DAY_MS;
  const simulated = (rules: readonly Rule[]) => {
    const engine = new Engine(rules);
    let n = 0;
    for (const line of lines) n += engine.ingest(line).length;
    return n + engine.close(end).length;
  };
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-rolling-"));
  try {
    const run = async (name: "fixed" | "rolling", rules: readonly Rule[]) => {
      const out = join(dir, `${name}.ndjson`);
      const pipeline = await LocalPipeline.start({
        rules,
        out,
        kinesisBatchSize: 1000,
        streamBatchSize: 1000,
      });
      try {
        const apply = { requests: 0, readUnits: 0, writeUnits: 0 };
        const schedule = { requests: 0, readUnits: 0, writeUnits: 0 };
        const add = (into: typeof apply, after: typeof apply, before: typeof apply) => {
          into.requests += after.requests - before.requests;
          into.readUnits += after.readUnits - before.readUnits;
          into.writeUnits += after.writeUnits - before.writeUnits;
        };
        const snapshot = async () => ({ ...(await pipeline.summary()).cost.dynamodb });
        let decided = 0;
        let exits = 0;
        let runs = 0;
        const runMs: number[] = [];
        for (let day = 0; day < steps; day++) {
          const before = await snapshot();
          await pipeline.feed(daily[day] ?? []);
          await pipeline.drain();
          const applied = await snapshot();
          add(apply, applied, before);
          const written = await lineCount(out);
          const started = performance.now();
          await pipeline.runSchedule(START + (day + 1) * DAY_MS);
          const elapsed = performance.now() - started;
          add(schedule, await snapshot(), applied);
          const after = await lineCount(out);
          runs++;
          if (after.lines > written.lines) runMs.push(elapsed);
          decided += after.lines - written.lines;
          exits += after.exits - written.exits;
          options.onProgress?.(`${name}: days`, day + 1);
        }
        const statesDue = (await pipeline.summary()).rolling.statesDue ?? 0;
        return {
          apply,
          schedule,
          decided,
          exits,
          runs,
          runMs,
          statesDue,
          notifications: (await lineCount(out)).lines,
        };
      } finally {
        await pipeline.stop();
      }
    };
    const fixed = await run("fixed", fixedRules);
    const rolling = await run("rolling", rollingRules);
    const zero = { requests: 0, readUnits: 0, writeUnits: 0 };
    const sorted = [...rolling.runMs].sort((a, b) => a - b);
    return {
      events: options.events,
      users: options.users,
      days,
      window: WINDOW,
      perThousandEvents: {
        fixed: costBetween(fixed.apply, zero, options.events),
        rolling: costBetween(rolling.apply, zero, options.events),
      },
      schedule: {
        runs: rolling.runs,
        statesDue: rolling.statesDue,
        decided: rolling.decided,
        exits: rolling.exits,
        cost: costBetween(rolling.schedule, zero, 1000),
        perThousandDue: costBetween(rolling.schedule, zero, rolling.statesDue),
        perThousandDecided: costBetween(rolling.schedule, zero, rolling.decided),
        runMs: {
          median: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
          max: Math.round(sorted[sorted.length - 1] ?? 0),
        },
      },
      notifications: {
        fixed: fixed.notifications,
        rolling: rolling.notifications,
        simulatedFixed: simulated(fixedRules),
        simulatedRolling: simulated(rollingRules),
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
