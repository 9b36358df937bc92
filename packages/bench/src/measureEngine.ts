import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineSummary } from "@pia/core";
import { generateSampleRulesCsv } from "@pia/sample";
import { measureWholeProcess, type WholeProcessResult } from "./measureWholeProcess.js";
import { runEngine } from "./runEngine.js";
import { runParseOnly } from "./runParseOnly.js";
import { sampleRules } from "./sampleRules.js";
import { writeSampleEvents } from "./writeSampleEvents.js";

export interface EngineBenchResult {
  readonly events: number;
  readonly rules: number;
  readonly eventsPerSecond: number;
  readonly parseOnlyEventsPerSecond: number;
  /** Engine / parse-only: the goal is >= 0.5 (rules cost no more than parsing the JSON). */
  readonly ratio: number;
  /** This process's peak resident set so far, MB. */
  readonly peakRssMB: number;
  /** `pia simulate` as a whole process against a bare `node` parse loop (with `wholeProcessRounds`). */
  readonly wholeProcess?: WholeProcessResult;
}

export interface EngineBenchOptions {
  readonly events: number;
  readonly rules: number;
  readonly seed?: number;
  /** Also time the whole processes, best of this many rounds each (0 or absent: not measured). */
  readonly wholeProcessRounds?: number;
  /** Progress lines (what is generated, each round's figures). */
  readonly log?: (line: string) => void;
}

/** Users for N sample events: about 50 events each, at least 100 users. */
export function engineSampleUsers(events: number): number {
  return Math.max(100, Math.floor(events / 50));
}

/** Every window of the sample rules has closed by then, so closing rules are decided too. */
export const ENGINE_NOW = Date.parse("2022-01-01T00:00:00Z");

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Engine throughput against a plain read-lines-and-`JSON.parse` loop over the same file: writes N
 * sample events to a temp dir, then runs parse-only, engine, parse-only, engine in this process
 * and keeps the best of each (the first round warms the JIT and the file cache).
 */
export async function measureEngine(
  options: EngineBenchOptions,
): Promise<{ result: EngineBenchResult; summary: EngineSummary; notifications: number }> {
  const { events, log = () => {} } = options;
  const users = engineSampleUsers(events);
  const rules = sampleRules(options.rules, options.seed ?? 42);
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-engine-"));
  try {
    const file = join(dir, "events.ndjson");
    log(`generating ${events.toLocaleString("en-US")} events for ${users.toLocaleString("en-US")} users`);
    await writeSampleEvents(file, { users, events, seed: options.seed ?? 42 });
    let bestParse = 0;
    let bestEngine = 0;
    let last: Awaited<ReturnType<typeof runEngine>> | undefined;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const parsed = await runParseOnly(file);
      const run = await runEngine(file, rules, ENGINE_NOW);
      if (parsed.lines !== events || run.lines !== events) {
        throw new Error(`read ${parsed.lines} / ${run.lines} lines, expected ${events}`);
      }
      bestParse = Math.max(bestParse, events / parsed.seconds);
      bestEngine = Math.max(bestEngine, events / run.seconds);
      last = run;
      log(
        `round ${attempt}: parse-only ${Math.round(events / parsed.seconds).toLocaleString("en-US")} ev/s, engine ${Math.round(events / run.seconds).toLocaleString("en-US")} ev/s (${run.notifications} notifications)`,
      );
    }
    if (last === undefined) throw new Error("no engine round ran");
    let wholeProcess: WholeProcessResult | undefined;
    if ((options.wholeProcessRounds ?? 0) > 0) {
      const rulesFile = join(dir, "rules.csv");
      await writeFile(rulesFile, generateSampleRulesCsv({ rules: options.rules, seed: options.seed ?? 42 }));
      wholeProcess = await measureWholeProcess({
        eventsFile: file,
        rulesFile,
        outFile: join(dir, "notifications.ndjson"),
        now: new Date(ENGINE_NOW).toISOString(),
        rounds: options.wholeProcessRounds ?? 0,
        log,
      });
    }
    return {
      result: {
        events,
        rules: rules.length,
        eventsPerSecond: Math.round(bestEngine),
        parseOnlyEventsPerSecond: Math.round(bestParse),
        ratio: round(bestEngine / bestParse, 3),
        peakRssMB: round(process.resourceUsage().maxRSS / 1024, 1),
        ...(wholeProcess === undefined ? {} : { wholeProcess }),
      },
      summary: last.summary,
      notifications: last.notifications,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
