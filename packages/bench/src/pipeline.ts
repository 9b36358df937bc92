/**
 * The pipeline against the original design, on the same records and the same DynamoDB Local:
 *
 *   pnpm bench:pipeline -- [--events 20000] [--users U] [--json FILE] [--scan-stride 24]
 *
 * Prints a table per 1,000 events (ours, original, ours / original); `--json` writes the figures.
 * Users default to N / 20 (as `npm run demo`). `--scan-stride K` runs every Kth hourly Scan of
 * the original for real and charges the others its cost (1: all of them; slow).
 */
import { writeFile } from "node:fs/promises";
import { formatPipelineTable } from "./formatPipelineTable.js";
import { measurePipeline, pipelineSampleUsers } from "./measurePipeline.js";
import { parseFlags, wholeNumberFlag } from "./parseFlags.js";
import { runMain } from "./runMain.js";
import { showProgress } from "./showProgress.js";

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    events: "string",
    users: "string",
    json: "string",
    "scan-stride": "string",
  });
  const events = wholeNumberFlag("events", flags.events, 20_000);
  const users = wholeNumberFlag("users", flags.users, pipelineSampleUsers(events));
  const scanStride = wholeNumberFlag("scan-stride", flags["scan-stride"], 24);
  const progress = showProgress();
  const { result, details } = await measurePipeline({
    events,
    users,
    scanStride,
    onProgress: (design, records) => progress.tick(`${design}: records fed`, records),
  }).finally(() => progress.stop());
  if (flags.json !== undefined) await writeFile(flags.json, `${JSON.stringify(result)}\n`);
  console.log(formatPipelineTable(result, details));
});
