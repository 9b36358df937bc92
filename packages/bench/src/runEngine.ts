import { Engine, type EngineSummary, type Rule } from "@pia/core";
import { readLines } from "./readLines.js";

/** One pass of the engine over an NDJSON file, closing at `now` (epoch ms). */
export async function runEngine(
  file: string,
  rules: readonly Rule[],
  now: number,
): Promise<{ lines: number; seconds: number; notifications: number; summary: EngineSummary }> {
  const started = performance.now();
  const engine = new Engine(rules);
  let lines = 0;
  let notifications = 0;
  for await (const line of readLines(file)) {
    lines++;
    notifications += engine.ingest(line).length;
  }
  notifications += engine.close(now).length;
  return { lines, seconds: (performance.now() - started) / 1000, notifications, summary: engine.summary() };
}
