import type { PipelineBenchDetails, PipelineBenchResult } from "./measurePipeline.js";

/** One line of the comparison: a figure for ours and for the original (undefined: not applicable). */
export interface PipelineRow {
  readonly label: string;
  readonly ours: number | undefined;
  readonly original: number | undefined;
  /** Decimals to show. */
  readonly digits: number;
}

/** The comparison per 1,000 events, then the whole run's times. */
export function pipelineRows(result: PipelineBenchResult, details?: PipelineBenchDetails): PipelineRow[] {
  const per1000 = (n: number) => (n * 1000) / result.events;
  const rows: PipelineRow[] = [
    {
      label: "DynamoDB requests",
      ours: per1000(result.ddb.requests),
      original: per1000(result.original.ddb.requests),
      digits: 1,
    },
    {
      label: "DynamoDB read units (RCU)",
      ours: per1000(result.ddb.readUnits),
      original: per1000(result.original.ddb.readUnits),
      digits: 1,
    },
    {
      label: "DynamoDB write units (WCU)",
      ours: per1000(result.ddb.writeUnits),
      original: per1000(result.original.ddb.writeUnits),
      digits: 1,
    },
    { label: "SQS requests", ours: per1000(result.sqs.requests), original: 0, digits: 1 },
    { label: "Honeycode rule lookups", ours: 0, original: per1000(result.original.ruleLookups), digits: 0 },
  ];
  if (details !== undefined) {
    const { scanCost, cost } = details.original;
    rows.push(
      {
        label: "  of which hourly scans: requests",
        ours: undefined,
        original: per1000(scanCost.requests),
        digits: 1,
      },
      {
        label: "  of which hourly scans: RCU",
        ours: undefined,
        original: per1000(scanCost.readUnits),
        digits: 1,
      },
      {
        label: "  without the hourly scans: requests",
        ours: per1000(result.ddb.requests),
        original: per1000(cost.requests - scanCost.requests),
        digits: 1,
      },
      {
        label: "  without the hourly scans: RCU",
        ours: per1000(result.ddb.readUnits),
        original: per1000(cost.readUnits - scanCost.readUnits),
        digits: 1,
      },
    );
  }
  rows.push(
    {
      label: "wall time, whole run (s)",
      ours: result.wallSeconds,
      original: result.original.wallSeconds,
      digits: 1,
    },
    {
      label: "events per second",
      ours: result.eventsPerSecond,
      original: result.events / result.original.wallSeconds,
      digits: 0,
    },
  );
  return rows;
}

/** `ours / original` as text: `—` when either does not apply or the original spent nothing. */
export function formatRatio(row: PipelineRow): string {
  if (row.ours === undefined || row.original === undefined || row.original === 0) return "—";
  const ratio = row.ours / row.original;
  return ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2);
}

/** A figure with thousands separators and the row's decimals. */
export function formatFigure(value: number | undefined, digits: number): string {
  if (value === undefined) return "—";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
