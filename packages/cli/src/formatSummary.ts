import type { SimulateResult } from "./simulate.js";

const number = (n: number) => n.toLocaleString("en-US");

/** The human summary of a run, for stderr: what came in, what was skipped and why, what fired. */
export function formatSummary(result: SimulateResult): string {
  const skipped = Object.entries(result.skipped).filter(([, n]) => n > 0);
  const skippedTotal = skipped.reduce((total, [, n]) => total + n, 0);
  const rules = Object.entries(result.notificationsByRule).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const width = Math.max(8, ...rules.map(([id]) => id.length));
  const lines = [
    `records read       ${number(result.records)} in ${(result.elapsedMs / 1000).toFixed(2)} s`,
    `  applied          ${number(result.applied)}`,
    `  duplicate        ${number(result.duplicate)}`,
    `  ignored          ${number(result.ignored)} (system "_" and our own "trk_" events, Segment calls other than track)`,
    `  skipped          ${number(skippedTotal)}${skipped.length === 0 ? "" : ` (${skipped.map(([reason, n]) => `${reason} ${number(n)}`).join(", ")})`}`,
  ];
  if (result.blankLines > 0) lines.push(`blank lines        ${number(result.blankLines)} (not records)`);
  lines.push(`notifications      ${number(result.notifications)}`);
  for (const [id, n] of rules) lines.push(`  ${id.padEnd(width)}  ${number(n)}`);
  return lines.join("\n");
}
