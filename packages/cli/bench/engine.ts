/**
 * Engine throughput against a plain parse-only loop over the same file.
 *
 *   pnpm bench:engine -- --events 200000 --json bench.json
 *
 * Generates N sample events (users = max(100, N / 50)) and 50 generated rules into a temp dir,
 * then runs parse-only, engine, parse-only, engine in one process and keeps the best of each.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Engine, parseRulesCsv, type Rule } from "@pia/core";
import { writeSample } from "../src/writeSample.js";

const RULES = 50;
const SEED = 42;

interface BenchResult {
  readonly events: number;
  readonly rules: number;
  readonly eventsPerSecond: number;
  readonly parseOnlyEventsPerSecond: number;
  readonly ratio: number;
  readonly peakRssMB: number;
}

function lines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
}

/** (a) The floor: read each line and JSON.parse it. Returns lines per second. */
async function parseOnly(file: string): Promise<{ perSecond: number; lines: number }> {
  const started = performance.now();
  let count = 0;
  for await (const line of lines(file)) {
    count++;
    try {
      JSON.parse(line);
    } catch {
      // Malformed sample lines are part of the input; the engine pays for them too.
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, lines: count };
}

/** (b) The engine over the same file, closing at the real time (every sample window has closed). */
async function engineRun(
  file: string,
  rules: readonly Rule[],
): Promise<{ perSecond: number; lines: number; notifications: number; engine: Engine }> {
  const started = performance.now();
  const engine = new Engine(rules);
  let count = 0;
  let notifications = 0;
  for await (const line of lines(file)) {
    count++;
    notifications += engine.ingest(line).length;
  }
  notifications += engine.close(Date.now()).length;
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, lines: count, notifications, engine };
}

function parseCli(argv: readonly string[]): { events: number; json: string | undefined } {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  const { values } = parseArgs({
    args,
    options: { events: { type: "string" }, json: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const events = values.events === undefined ? 200_000 : Number(values.events.replaceAll("_", ""));
  if (!Number.isSafeInteger(events) || events < 1) {
    throw new Error(`--events must be a whole number >= 1, got ${JSON.stringify(values.events)}`);
  }
  return { events, json: values.json };
}

async function main(): Promise<void> {
  const { events, json } = parseCli(process.argv.slice(2));
  const users = Math.max(100, Math.floor(events / 50));
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-"));
  try {
    process.stderr.write(
      `generating ${events.toLocaleString("en-US")} events for ${users} users in ${dir}\n`,
    );
    const { eventsFile, rulesFile } = await writeSample(dir, { users, events, seed: SEED, rules: RULES });
    const rules = parseRulesCsv(await readFile(rulesFile, "utf8")).rules;

    let bestParse = 0;
    let bestEngine = 0;
    let last: Awaited<ReturnType<typeof engineRun>> | undefined;
    for (let round = 1; round <= 2; round++) {
      const a = await parseOnly(eventsFile);
      const b = await engineRun(eventsFile, rules);
      if (a.lines !== events || b.lines !== events) {
        throw new Error(`read ${a.lines} / ${b.lines} lines, expected ${events}`);
      }
      bestParse = Math.max(bestParse, a.perSecond);
      bestEngine = Math.max(bestEngine, b.perSecond);
      last = b;
      process.stderr.write(
        `round ${round}: parse-only ${Math.round(a.perSecond).toLocaleString("en-US")} ev/s, engine ${Math.round(b.perSecond).toLocaleString("en-US")} ev/s (${b.notifications} notifications)\n`,
      );
    }

    const result: BenchResult = {
      events,
      rules: rules.length,
      eventsPerSecond: Math.round(bestEngine),
      parseOnlyEventsPerSecond: Math.round(bestParse),
      ratio: Math.round((bestEngine / bestParse) * 1000) / 1000,
      peakRssMB: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    };
    const text = JSON.stringify(result);
    if (json !== undefined) await writeFile(json, `${text}\n`);
    console.log(text);
    if (last !== undefined) console.log(`engine summary: ${JSON.stringify(last.engine.summary())}`);
    console.log(
      `engine ${result.eventsPerSecond.toLocaleString("en-US")} ev/s vs parse-only ${result.parseOnlyEventsPerSecond.toLocaleString("en-US")} ev/s: ratio ${result.ratio.toFixed(2)} (goal >= 0.5); peak RSS ${Math.round(result.peakRssMB)} MB`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
