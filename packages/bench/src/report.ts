/**
 * Regenerates docs/benchmarks.md and docs/benchmarks-cost.svg from a fresh run of the benchmarks:
 *
 *   pnpm bench:report [-- --quick] [--out-dir DIR]
 *
 * Full: the engine at 200,000 events, the scale curve at 10^4..10^6 events x 10..1,000 rules and
 * the pipeline at 20,000 events (several minutes). `--quick`: 50,000, 10^4..10^5 and 5,000.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import { describeMachine } from "./describeMachine.js";
import { judgeLimitingResource } from "./judgeLimitingResource.js";
import { measureEngine } from "./measureEngine.js";
import { measureEngineScale } from "./measureEngineScale.js";
import { measurePipeline, pipelineSampleUsers } from "./measurePipeline.js";
import { measureRolling } from "./measureRolling.js";
import { parseFlags } from "./parseFlags.js";
import { renderCostChart } from "./renderCostChart.js";
import { renderReport } from "./renderReport.js";
import { runMain } from "./runMain.js";

const CHART = "benchmarks-cost.svg";
const SCALE_RULES = [10, 100, 1_000];
const SCAN_STRIDE = 24;

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { quick: "boolean", "out-dir": "string" });
  const quick = flags.quick === true;
  const outDir = flags["out-dir"] ?? fileURLToPath(new URL("../../../docs", import.meta.url));
  // Progress on a terminal only, like every long command here.
  const log = process.stderr.isTTY ? (line: string) => process.stderr.write(`${line}\n`) : () => {};
  const started = performance.now();

  const engineEvents = quick ? 50_000 : 200_000;
  const scaleEvents = quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000];
  const pipelineEvents = quick ? 5_000 : 20_000;
  const pipelineUsers = pipelineSampleUsers(pipelineEvents);

  log(`engine: ${engineEvents.toLocaleString("en-US")} events, 50 rules`);
  const { result: engine } = await measureEngine({ events: engineEvents, rules: 50, log });
  const scale = await measureEngineScale({ events: scaleEvents, rules: SCALE_RULES, log });
  log(`pipeline: ${pipelineEvents.toLocaleString("en-US")} events, ours then the original`);
  const pipeline = await measurePipeline({
    events: pipelineEvents,
    users: pipelineUsers,
    scanStride: SCAN_STRIDE,
  });

  const rollingEvents = quick ? 2_000 : 10_000;
  const rollingDays = quick ? 10 : 30;
  log(
    `rolling windows: ${rollingEvents.toLocaleString("en-US")} events over ${rollingDays} days, fixed then rolling`,
  );
  const rolling = await measureRolling({
    events: rollingEvents,
    users: pipelineSampleUsers(rollingEvents),
    days: rollingDays,
  });

  const heapLimitMB = getHeapStatistics().heap_size_limit / 1_048_576;
  const per1000 = (value: number) => (value * 1000) / pipelineEvents;
  const { ddb, original } = pipeline.result;
  const chart = renderCostChart("DynamoDB cost per 1,000 events: ours and the original design", [
    { label: "requests", ours: per1000(ddb.requests), original: per1000(original.ddb.requests) },
    { label: "read units (RCU)", ours: per1000(ddb.readUnits), original: per1000(original.ddb.readUnits) },
    { label: "write units (WCU)", ours: per1000(ddb.writeUnits), original: per1000(original.ddb.writeUnits) },
  ]);
  const report = renderReport({
    generatedAt: new Date(),
    quick,
    machine: describeMachine(),
    heapLimitMB,
    commands: [
      `pnpm bench:report${quick ? " -- --quick" : ""}`,
      `pnpm bench:pipeline -- --events ${pipelineEvents} --users ${pipelineUsers} --scan-stride ${SCAN_STRIDE}`,
      `pnpm bench:rolling -- --events ${rollingEvents} --days ${rollingDays}`,
      `pnpm bench:engine -- --events ${engineEvents} --rules 50`,
      `# scale curve, one child per cell: N in ${scaleEvents.join(", ")} sample events, R in ${SCALE_RULES.join(", ")}`,
      "node --import tsx packages/bench/src/engineCell.ts --events-file EVENTS_N.ndjson --rules R",
    ],
    pipeline,
    scanStride: SCAN_STRIDE,
    rolling,
    engine,
    scale,
    judgement: judgeLimitingResource(scale, heapLimitMB),
    chart: CHART,
    totalSeconds: (performance.now() - started) / 1000,
  });
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, "benchmarks.md"), report);
  await writeFile(join(outDir, CHART), chart);
  console.log(`wrote ${join(outDir, "benchmarks.md")} and ${join(outDir, CHART)}`);
});
