/**
 * The soak test: the local pipeline fed round after round with faults injected, checked against
 * the in-memory engine after each round.
 *
 *   pnpm soak -- --minutes 2 [--rounds N] [--seed S] [--events-per-round E] [--days-per-round D]
 *
 * Exit codes: 0 no mismatch; 1 a mismatch, a batch given up or a dead letter; 2 invalid flags.
 */

import { runMain } from "./runMain.js";
import { parseSoakFlags, SOAK_USAGE } from "./soakFlags.js";
import { soakPipeline } from "./soakPipeline.js";
import { formatSoakReport } from "./soakReport.js";

runMain(async () => {
  const flags = parseSoakFlags(process.argv.slice(2));
  if (flags === "help") {
    process.stdout.write(`${SOAK_USAGE}\n`);
    return;
  }
  const result = await soakPipeline({
    ...flags,
    onRound: (p) =>
      process.stderr.write(
        `round ${p.round}: ${p.records.toLocaleString("en-US")} records, ${p.delivered.toLocaleString("en-US")}/${p.expected.toLocaleString("en-US")} notifications, ${p.missing + p.extra} mismatches, ${p.faultsInjected.toLocaleString("en-US")} faults, ${(p.elapsedMs / 1000).toFixed(1)} s\n`,
      ),
  });
  process.stdout.write(formatSoakReport(result, flags));
  if (!result.clean) process.exitCode = 1;
});
