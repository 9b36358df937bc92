import { describe, expect, it } from "vitest";
import { measureEngineScale } from "../src/measureEngineScale.js";

describe("measureEngineScale", () => {
  it("measures every cell of the grid in a child process, events-major", async () => {
    const cells = await measureEngineScale({ events: [300, 600], rules: [5, 40] });
    expect(cells.map((cell) => [cell.events, cell.rules])).toEqual([
      [300, 5],
      [300, 40],
      [600, 5],
      [600, 40],
    ]);
    for (const cell of cells) {
      expect(cell.eventsPerSecond).toBeGreaterThan(0);
      expect(cell.peakHeapMB).toBeGreaterThan(0);
      // A child's RSS holds at least its heap.
      expect(cell.peakRssMB).toBeGreaterThanOrEqual(cell.peakHeapMB);
    }
    // More rules over the same records fire more notifications.
    expect(cells[1]?.notifications).toBeGreaterThan(cells[0]?.notifications ?? 0);
  });
});
