import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/**
 * Publishes a batch's counts as CloudWatch metrics in the embedded metric format (Powertools):
 * `counts` go into the invocation's metric set (flushed by the `logMetrics` middleware), zeros
 * included so that dashboards show a flat line rather than a gap.
 */
export function emitCounts(metrics: Metrics, counts: Readonly<Record<string, number>>): void {
  for (const [name, value] of Object.entries(counts)) metrics.addMetric(name, MetricUnit.Count, value);
}

/**
 * Publishes one metric per value of a dimension (skipped records by `reason`, deliveries by
 * `ruleId`, failures by `sink`). A metric set has one set of dimensions, so each value is its own
 * single-metric line. Zeros are left out: each dimension value is a metric CloudWatch bills.
 */
export function emitCountsBy(
  metrics: Metrics,
  name: string,
  dimension: string,
  counts: Iterable<readonly [string, number]>,
): void {
  for (const [value, count] of counts) {
    if (count === 0) continue;
    metrics.singleMetric().addDimension(dimension, value).addMetric(name, MetricUnit.Count, count);
  }
}
