import type { PipelineBenchDetails, PipelineBenchResult } from "./measurePipeline.js";
import { formatFigure, formatRatio, pipelineRows } from "./pipelineRows.js";

/** The plain-text comparison `bench:pipeline` prints: per 1,000 events, ours, original, ratio. */
export function formatPipelineTable(result: PipelineBenchResult, details?: PipelineBenchDetails): string {
  const header = [
    `per 1,000 events (${result.events.toLocaleString("en-US")} events, ${result.users.toLocaleString("en-US")} users)`,
    "ours",
    "original",
    "ours / original",
  ];
  const body = pipelineRows(result, details).map((row) => [
    row.label,
    formatFigure(row.ours, row.digits),
    formatFigure(row.original, row.digits),
    formatRatio(row),
  ]);
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...body.map((line) => (line[column] ?? "").length)),
  );
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, column) =>
        column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
      )
      .join("  ");
  const lines = [format(header), ...body.map(format)];
  if (details !== undefined) {
    const { original } = details;
    lines.push(
      "",
      `ours: ${result.notifications.toLocaleString("en-US")} notifications (pia simulate on the same records: ${details.simulatedNotifications.toLocaleString("en-US")})`,
      `original: ${original.processed.toLocaleString("en-US")} custom events processed, ${original.aggregated.toLocaleString("en-US")} of them updated the aggregate table; ${original.hourlyRuns.toLocaleString("en-US")} hourly scans (${original.scansRun.toLocaleString("en-US")} run, the rest charged the last one's cost)`,
    );
  }
  return lines.join("\n");
}
