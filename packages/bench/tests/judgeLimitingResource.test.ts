import { describe, expect, it } from "vitest";
import { judgeLimitingResource } from "../src/judgeLimitingResource.js";
import type { ScaleCell } from "../src/measureEngineScale.js";

function cell(events: number, rules: number, eventsPerSecond: number, peakHeapMB: number): ScaleCell {
  return {
    events,
    rules,
    eventsPerSecond,
    seconds: events / eventsPerSecond,
    peakRssMB: peakHeapMB + 100,
    peakHeapMB,
    notifications: 0,
  };
}

describe("judgeLimitingResource", () => {
  it("says memory when the heap limit comes within an hour of processing", () => {
    // 1,000 MB per million events: a 4,000 MB limit at ~4 million events, ~400 s at 10,000 events/s.
    const judgement = judgeLimitingResource(
      [cell(100_000, 1000, 10_000, 100), cell(1_000_000, 1000, 10_000, 1_000)],
      4_000,
    );
    expect(judgement.limit).toBe("memory");
    expect(judgement.statement).toMatch(/^\*\*Memory limits first/);
    const [growth] = judgement.growth;
    expect(growth?.heapPerMillionMB).toBeCloseTo(1_000, 6);
    expect(growth?.eventsAtHeapLimit).toBeCloseTo(4_000_000, 0);
    expect(growth?.secondsToHeapLimit).toBeCloseTo(400, 6);
    expect(growth?.timeFactor).toBeCloseTo(10, 6);
    expect(growth?.heapFactor).toBeCloseTo(10, 6);
  });

  it("says time when reaching the heap limit would take over an hour, judging by the most rules", () => {
    const judgement = judgeLimitingResource(
      [
        cell(100_000, 10, 50_000, 50),
        cell(1_000_000, 10, 50_000, 5_000),
        cell(100_000, 1000, 500, 40),
        cell(1_000_000, 1000, 500, 50),
      ],
      4_000,
    );
    expect(judgement.growth.map((growth) => growth.rules)).toEqual([10, 1000]);
    expect(judgement.limit).toBe("time");
    expect(judgement.statement).toMatch(/^\*\*Time limits first/);
  });

  it("says time when the heap does not grow, and nothing with a single event count", () => {
    expect(
      judgeLimitingResource([cell(10_000, 10, 1_000, 30), cell(100_000, 10, 1_000, 30)], 4_000).limit,
    ).toBe("time");
    expect(judgeLimitingResource([cell(10_000, 10, 1_000, 30)], 4_000).limit).toBeUndefined();
  });
});
