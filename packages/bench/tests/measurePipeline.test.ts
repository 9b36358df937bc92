import { describe, expect, it } from "vitest";
import { measurePipeline } from "../src/measurePipeline.js";

describe("measurePipeline", () => {
  it("gives every field of bench:pipeline's JSON, and ours costs fewer requests than the original", async () => {
    // One day of event time keeps the original's hourly scans few (at most 24 runs).
    const { result, details } = await measurePipeline({ events: 200, users: 10, days: 1 });
    expect(Object.keys(result).sort()).toEqual(
      ["ddb", "events", "eventsPerSecond", "notifications", "original", "sqs", "users", "wallSeconds"].sort(),
    );
    expect(Object.keys(result.ddb).sort()).toEqual(["readUnits", "requests", "writeUnits"]);
    expect(Object.keys(result.sqs)).toEqual(["requests"]);
    expect(Object.keys(result.original).sort()).toEqual(["ddb", "ruleLookups", "wallSeconds"]);
    expect(Object.keys(result.original.ddb).sort()).toEqual(["readUnits", "requests", "writeUnits"]);
    expect(result).toMatchObject({ events: 200, users: 10 });
    expect(result.notifications).toBeGreaterThan(0);
    expect(result.notifications).toBe(details.simulatedNotifications);
    expect(result.ddb.requests).toBeGreaterThan(0);
    expect(result.ddb.writeUnits).toBeGreaterThan(0);
    expect(result.sqs.requests).toBeGreaterThan(0);
    expect(result.original.ruleLookups).toBe(2 * details.original.processed);
    expect(details.original.hourlyRuns).toBeGreaterThan(20);
    expect(details.original.hourlyRuns).toBeLessThanOrEqual(24);
    expect(result.ddb.requests).toBeLessThan(result.original.ddb.requests);
    // Even without its hourly scans, the original's per-event work costs more requests than ours.
    expect(result.ddb.requests).toBeLessThan(
      result.original.ddb.requests - details.original.scanCost.requests,
    );
    expect(result.wallSeconds).toBeGreaterThan(0);
    expect(result.original.wallSeconds).toBeGreaterThan(0);
  });
});
