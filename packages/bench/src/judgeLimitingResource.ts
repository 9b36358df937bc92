import type { ScaleCell } from "./measureEngineScale.js";

/** How time and memory grew between the two largest event counts, at one rule count. */
export interface Growth {
  readonly rules: number;
  readonly fromEvents: number;
  readonly toEvents: number;
  /** Seconds at `toEvents` / seconds at `fromEvents`. */
  readonly timeFactor: number;
  /** Peak heap at `toEvents` / at `fromEvents`. */
  readonly heapFactor: number;
  /** Heap added per 10^6 events, MB. */
  readonly heapPerMillionMB: number;
  /** Events at which the peak heap would reach the heap limit, if it keeps growing linearly. */
  readonly eventsAtHeapLimit: number | undefined;
  /** Seconds to process that many events at the rate measured at `toEvents`. */
  readonly secondsToHeapLimit: number | undefined;
}

export interface LimitJudgement {
  readonly growth: readonly Growth[];
  /** `memory` or `time`, from the largest rule count; undefined when the grid has one event count. */
  readonly limit: "memory" | "time" | undefined;
  readonly statement: string;
}

/** Reaching the heap limit in more than this much processing time makes time the limit that bites. */
export const TIME_BUDGET_SECONDS = 3_600;

const millions = (n: number) => `${(n / 1e6).toLocaleString("en-US", { maximumFractionDigits: 1 })} million`;
const duration = (s: number) =>
  s >= 7_200 ? `${(s / 3_600).toFixed(1)} h` : s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`;

/**
 * Which resource limits the engine first, derived from the scale curve: at each rule count, the
 * heap's growth between the two largest event counts is extrapolated linearly to the heap limit;
 * if processing that many events takes longer than `TIME_BUDGET_SECONDS` at the measured rate,
 * time limits first, otherwise memory does. The verdict is the largest rule count's (the worst).
 */
export function judgeLimitingResource(cells: readonly ScaleCell[], heapLimitMB: number): LimitJudgement {
  const ruleCounts = [...new Set(cells.map((cell) => cell.rules))].sort((a, b) => a - b);
  const growth: Growth[] = [];
  for (const rules of ruleCounts) {
    const row = cells.filter((cell) => cell.rules === rules).sort((a, b) => a.events - b.events);
    const from = row.at(-2);
    const to = row.at(-1);
    if (from === undefined || to === undefined) continue;
    const slope = (to.peakHeapMB - from.peakHeapMB) / (to.events - from.events);
    const eventsAtHeapLimit = slope > 0 ? to.events + (heapLimitMB - to.peakHeapMB) / slope : undefined;
    growth.push({
      rules,
      fromEvents: from.events,
      toEvents: to.events,
      timeFactor: to.seconds / from.seconds,
      heapFactor: to.peakHeapMB / from.peakHeapMB,
      heapPerMillionMB: slope * 1e6,
      eventsAtHeapLimit,
      secondsToHeapLimit:
        eventsAtHeapLimit === undefined ? undefined : eventsAtHeapLimit / to.eventsPerSecond,
    });
  }
  const worst = growth.at(-1);
  if (worst === undefined) {
    return { growth, limit: undefined, statement: "The grid has one event count: no growth to compare." };
  }
  const rate =
    cells.find((cell) => cell.rules === worst.rules && cell.events === worst.toEvents)?.eventsPerSecond ?? 0;
  const measured = `From ${worst.fromEvents.toLocaleString("en-US")} to ${worst.toEvents.toLocaleString("en-US")} events at ${worst.rules.toLocaleString("en-US")} rules, time grew ${worst.timeFactor.toFixed(1)}x and peak heap ${worst.heapFactor.toFixed(1)}x (${Math.round(worst.heapPerMillionMB).toLocaleString("en-US")} MB per million events; users grow with events, N / 50).`;
  if (worst.eventsAtHeapLimit === undefined || worst.secondsToHeapLimit === undefined) {
    return {
      growth,
      limit: "time",
      statement: `**Time limits first.** ${measured} The heap did not grow, so only processing time (${rate.toLocaleString("en-US")} events/s) grows with the input.`,
    };
  }
  const projection = `Extrapolated linearly, the heap reaches Node's limit (${Math.round(heapLimitMB).toLocaleString("en-US")} MB) at about ${millions(worst.eventsAtHeapLimit)} events, after about ${duration(worst.secondsToHeapLimit)} of processing at ${rate.toLocaleString("en-US")} events/s.`;
  const memoryFirst = worst.secondsToHeapLimit <= TIME_BUDGET_SECONDS;
  return {
    growth,
    limit: memoryFirst ? "memory" : "time",
    statement: memoryFirst
      ? `**Memory limits first.** ${measured} ${projection} That is within an hour's run: an input that size stops on the heap before its processing time becomes a problem (raise \`--max-old-space-size\`, or split the input by user).`
      : `**Time limits first.** ${measured} ${projection} Long before the heap runs out, a run takes over an hour: throughput, not memory, is what a bigger input or more rules costs.`,
  };
}
