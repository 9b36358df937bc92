/**
 * Engine throughput against a plain parse-only loop over the same file.
 *
 *   pnpm bench:engine -- [--events 200000] [--rules 50] [--rounds 3] [--json FILE]
 *
 * Generates N sample events (users = max(100, N / 50)) and R generated rules, then runs
 * parse-only, engine, parse-only, engine in one process and keeps the best of each. Then the whole
 * processes, start-up included: `node pia.mjs simulate` (the built CLI, as `pnpm pia` runs it)
 * against a bare `node` read-and-parse loop over the same file, alternating, best of `--rounds`.
 */
import { writeFile } from "node:fs/promises";
import { measureEngine } from "./measureEngine.js";
import { parseFlags, wholeNumberFlag } from "./parseFlags.js";
import { runMain } from "./runMain.js";

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), {
    events: "string",
    rules: "string",
    rounds: "string",
    json: "string",
  });
  const events = wholeNumberFlag("events", flags.events, 200_000);
  const rules = wholeNumberFlag("rules", flags.rules, 50);
  const rounds = wholeNumberFlag("rounds", flags.rounds, 3);
  const { result, summary } = await measureEngine({
    events,
    rules,
    wholeProcessRounds: rounds,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const text = JSON.stringify(result);
  if (flags.json !== undefined) await writeFile(flags.json, `${text}\n`);
  console.log(text);
  console.log(`engine summary: ${JSON.stringify(summary)}`);
  console.log(
    `engine ${result.eventsPerSecond.toLocaleString("en-US")} ev/s vs parse-only ${result.parseOnlyEventsPerSecond.toLocaleString("en-US")} ev/s: ratio ${result.ratio.toFixed(2)} (goal >= 0.5); peak RSS ${Math.round(result.peakRssMB)} MB`,
  );
  const whole = result.wholeProcess;
  if (whole !== undefined) {
    console.log(
      `whole process: pia simulate ${whole.cliSeconds.toFixed(2)} s vs bare node parse loop ${whole.parseOnlySeconds.toFixed(2)} s: ratio ${whole.ratio.toFixed(2)} (goal >= 0.5; best of ${whole.rounds}, alternating)`,
    );
  }
});
