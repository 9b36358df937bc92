/**
 * Rolling windows against fixed ones, on the same records, in the local pipeline:
 *
 *   pnpm bench:rolling -- [--events 10000] [--users U] [--days 30] [--json FILE]
 *
 * Prints the DynamoDB cost per 1,000 events of both rule sets, the cost of the daily scheduled runs
 * per 1,000 notifications they decided (exits, mostly), and how long such a run takes from its
 * start to its notifications written. Users default to N / 20.
 */
import { writeFile } from "node:fs/promises";
import { measureRolling } from "./measureRolling.js";
import { sampleBenchFlags } from "./parseFlags.js";
import { runMain } from "./runMain.js";
import { showProgress } from "./showProgress.js";

runMain(async () => {
  const flags = sampleBenchFlags(process.argv.slice(2), { events: 10_000, days: 30 });
  const { events, users, days } = flags;
  const progress = showProgress();
  const result = await measureRolling({
    events,
    users,
    days,
    onProgress: (phase, done) => progress.tick(phase, done),
  }).finally(() => progress.stop());
  if (flags.json !== undefined) await writeFile(flags.json, `${JSON.stringify(result)}\n`);
  const { fixed, rolling } = result.perThousandEvents;
  const ratio = (a: number, b: number) => (b === 0 ? "—" : (a / b).toFixed(2));
  const rows = [
    ["per 1,000 events", "fixed windows", `last ${result.window}`, "rolling / fixed"],
    ["DynamoDB requests", fixed.requests, rolling.requests, ratio(rolling.requests, fixed.requests)],
    ["read units (RCU)", fixed.readUnits, rolling.readUnits, ratio(rolling.readUnits, fixed.readUnits)],
    ["write units (WCU)", fixed.writeUnits, rolling.writeUnits, ratio(rolling.writeUnits, fixed.writeUnits)],
  ];
  for (const row of rows) console.log(row.map(String).join("\t"));
  const s = result.schedule;
  console.log(
    `scheduled runs: ${s.runs} (one a day): ${s.statesDue} due states, ${s.decided} notifications decided (${s.exits} exits), ${s.cost.requests} requests, ${s.cost.readUnits} RCU, ${s.cost.writeUnits} WCU in all`,
  );
  console.log(
    `  per 1,000 due states: ${s.perThousandDue.requests} requests, ${s.perThousandDue.readUnits} RCU, ${s.perThousandDue.writeUnits} WCU; per 1,000 notifications decided: ${s.perThousandDecided.requests} requests, ${s.perThousandDecided.readUnits} RCU, ${s.perThousandDecided.writeUnits} WCU`,
  );
  console.log(
    `  a run that decided something, from its start to its notifications written: ${s.runMs.median} ms (median), ${s.runMs.max} ms (max)`,
  );
  const n = result.notifications;
  console.log(
    `notifications: fixed ${n.fixed} (simulate ${n.simulatedFixed}), rolling ${n.rolling} (simulate ${n.simulatedRolling})`,
  );
});
