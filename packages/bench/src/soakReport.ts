import type { SoakFlags } from "./soakFlags.js";
import type { SoakResult } from "./soakPipeline.js";

const number = (n: number) => n.toLocaleString("en-US");

/** The soak's figures: what went in, what was injected, and whether both sides agree. */
export function formatSoakReport(result: SoakResult, flags: SoakFlags): string {
  const { engine, pipeline } = result;
  const skipped = Object.entries(engine.skipped).filter(([, n]) => n > 0);
  const skippedTotal = skipped.reduce((total, [, n]) => total + n, 0);
  const faults = Object.entries(result.faultsByKind);
  const faultsTotal = faults.reduce((total, [, n]) => total + n, 0);
  const width = Math.max(...faults.map(([kind]) => kind.length));
  const lines = [
    `soak               ${result.rounds} rounds in ${(result.elapsedMs / 60_000).toFixed(2)} min (seed ${flags.seed}, ${number(flags.eventsPerRound)} records and ${flags.daysPerRound} days a round)`,
    `records fed        ${number(result.records)}`,
    `  applied          ${number(engine.applied)}`,
    `  duplicate        ${number(engine.duplicate)}`,
    `  ignored          ${number(engine.ignored)}`,
    `  skipped          ${number(skippedTotal)} (${skipped.map(([reason, n]) => `${reason} ${number(n)}`).join(", ")})`,
    `handled            ${number(pipeline.ingest.records ?? 0)} Kinesis and ${number(pipeline.aggregate.records ?? 0)} stream records by ingest and aggregate, ${number(pipeline.notify.messages ?? 0)} messages by the notifier (retries and duplicates included)`,
    `faults injected    ${number(faultsTotal)}`,
    ...faults.map(([kind, n]) => `  ${kind.padEnd(width)}  ${number(n)}`),
    `notifications      ${number(result.expected)} expected (pia simulate), ${number(result.delivered)} delivered (pipeline)`,
    `mismatches         ${number(result.mismatches)} (${number(result.missing)} missing, ${number(result.extra)} extra; ${result.roundsMismatched} rounds with a mismatch)`,
    `given up           ${pipeline.onFailure.kinesis} Kinesis and ${pipeline.onFailure.stream} stream batches; ${pipeline.deadLetters} dead letters`,
  ];
  for (const [line, n] of result.samples) lines.push(`  ${n > 0 ? `missing ${n}` : `extra ${-n}`}: ${line}`);
  lines.push(`result             ${result.clean ? "PASS" : "FAIL"}`);
  return `${lines.join("\n")}\n`;
}
