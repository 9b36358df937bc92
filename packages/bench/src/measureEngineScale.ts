import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { engineSampleUsers } from "./measureEngine.js";
import { writeSampleEvents } from "./writeSampleEvents.js";

/** What `engineCell.ts` prints. */
export interface EngineCellOutput {
  readonly lines: number;
  readonly seconds: number;
  readonly peakRssMB: number;
  readonly peakHeapMB: number;
  readonly notifications: number;
}

/** One measurement of the scale curve: the engine over `events` sample events with `rules` rules. */
export interface ScaleCell {
  readonly events: number;
  readonly rules: number;
  readonly eventsPerSecond: number;
  readonly seconds: number;
  /** Peak resident set of the child process (Node, tsx and the engine), MB. */
  readonly peakRssMB: number;
  /** Peak V8 heap in use, sampled every 25 ms, MB. */
  readonly peakHeapMB: number;
  readonly notifications: number;
}

export interface ScaleOptions {
  readonly events: readonly number[];
  readonly rules: readonly number[];
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

const run = promisify(execFile);
const CELL = fileURLToPath(new URL("./engineCell.ts", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

async function measureCell(file: string, events: number, rules: number): Promise<ScaleCell> {
  const { stdout } = await run(
    process.execPath,
    ["--import", TSX, CELL, "--events-file", file, "--rules", String(rules)],
    { maxBuffer: 1_048_576 },
  ).catch((error: unknown) => {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`the engine cell (${events} events, ${rules} rules) failed: ${stderr.trim()}`, {
      cause: error,
    });
  });
  const output = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as EngineCellOutput;
  if (output.lines !== events)
    throw new Error(`the engine cell read ${output.lines} lines, expected ${events}`);
  return {
    events,
    rules,
    eventsPerSecond: Math.round(events / output.seconds),
    seconds: Math.round(output.seconds * 100) / 100,
    peakRssMB: Math.round(output.peakRssMB),
    peakHeapMB: Math.round(output.peakHeapMB),
    notifications: output.notifications,
  };
}

/**
 * The engine's scale curve: for every event count, one sample file (users = max(100, N / 50)),
 * then one child process per rule count, so each cell's peak memory is its own and no cell warms
 * the next. Cells come back events-major, in the order given.
 */
export async function measureEngineScale(options: ScaleOptions): Promise<ScaleCell[]> {
  const { log = () => {} } = options;
  const cells: ScaleCell[] = [];
  const dir = await mkdtemp(join(tmpdir(), "pia-bench-scale-"));
  try {
    for (const events of options.events) {
      const file = join(dir, `events-${events}.ndjson`);
      log(`scale: generating ${events.toLocaleString("en-US")} events`);
      await writeSampleEvents(file, { users: engineSampleUsers(events), events, seed: options.seed ?? 42 });
      for (const rules of options.rules) {
        const cell = await measureCell(file, events, rules);
        log(
          `scale: ${events.toLocaleString("en-US")} events x ${rules} rules: ${cell.eventsPerSecond.toLocaleString("en-US")} ev/s, peak RSS ${cell.peakRssMB} MB, peak heap ${cell.peakHeapMB} MB`,
        );
        cells.push(cell);
      }
      await rm(file, { force: true });
    }
    return cells;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
