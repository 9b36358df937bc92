/**
 * Backfilling rules against counting the same events live, in the local pipeline:
 *
 *   pnpm bench:backfill -- [--events 10000] [--users U] [--days 30] [--json FILE]
 *
 * Prints the DynamoDB cost per 1,000 stored events of a backfill of the sample rules (the job run
 * to done), beside the cost of counting the same events live, and checks the backfill's
 * notifications against the engine's. Users default to N / 20.
 */
import { writeFile } from "node:fs/promises";
import { measureBackfill } from "./measureBackfill.js";
import { sampleBenchFlags } from "./parseFlags.js";
import { runMain } from "./runMain.js";
import { showProgress } from "./showProgress.js";

runMain(async () => {
  const flags = sampleBenchFlags(process.argv.slice(2), { events: 10_000, days: 30 });
  const { events, users, days } = flags;
  const progress = showProgress();
  const result = await measureBackfill({
    events,
    users,
    days,
    onProgress: (phase, done) => progress.tick(phase, done),
  }).finally(() => progress.stop());
  if (flags.json !== undefined) await writeFile(flags.json, `${JSON.stringify(result)}\n`);
  const { livePerThousandEvents: live, backfillPerThousandEvents: backfill } = result;
  const ratio = (a: number, b: number) => (b === 0 ? "—" : (a / b).toFixed(2));
  const rows = [
    ["per 1,000 events", "counted live", "backfilled", "backfill / live"],
    ["DynamoDB requests", live.requests, backfill.requests, ratio(backfill.requests, live.requests)],
    ["read units (RCU)", live.readUnits, backfill.readUnits, ratio(backfill.readUnits, live.readUnits)],
    ["write units (WCU)", live.writeUnits, backfill.writeUnits, ratio(backfill.writeUnits, live.writeUnits)],
  ];
  for (const row of rows) console.log(row.map(String).join("\t"));
  console.log(
    `backfill of ${result.rules} rules over ${result.events} stored events of ${result.users} users: ${result.usersMerged} user merges, ${result.eventsRead} history items read, ${result.runs} schedule runs, ${result.wallMs} ms`,
  );
  const n = result.notifications;
  console.log(`notifications: backfill ${n.backfill}, expected (engine, history collapsed) ${n.expected}`);
  if (n.backfill !== n.expected) throw new Error("the backfill's notifications differ from the engine's");
});
