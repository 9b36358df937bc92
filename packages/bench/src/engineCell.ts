/**
 * One cell of the engine scale curve, run in a child process so that its peak RSS is its own:
 *
 *   node --import tsx engineCell.ts --events-file FILE --rules R
 *
 * Runs the engine once over the file with R generated rules and prints one JSON line:
 * `{"lines","seconds","peakRssMB","peakHeapMB","notifications"}`.
 */

import { UsageError } from "@pia/aws/usageError";
import { ENGINE_NOW } from "./measureEngine.js";
import type { EngineCellOutput } from "./measureEngineScale.js";
import { parseFlags, wholeNumberFlag } from "./parseFlags.js";
import { runEngine } from "./runEngine.js";
import { runMain } from "./runMain.js";
import { sampleRules } from "./sampleRules.js";
import { trackPeakHeap } from "./trackPeakHeap.js";

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    "events-file": "string",
    rules: "string",
  });
  const file = flags["events-file"];
  if (file === undefined) throw new UsageError("--events-file is required");
  const rules = sampleRules(wholeNumberFlag("rules", flags.rules, 50));
  const heap = trackPeakHeap();
  const run = await runEngine(file, rules, ENGINE_NOW);
  const output: EngineCellOutput = {
    lines: run.lines,
    seconds: run.seconds,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    peakHeapMB: heap.stop() / 1_048_576,
    notifications: run.notifications,
  };
  console.log(JSON.stringify(output));
});
