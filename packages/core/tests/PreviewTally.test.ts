import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PiaEvent, Rule } from "../src/index.js";
import { DAY_MS, PreviewTally, previewRule } from "../src/index.js";

const START = Date.UTC(2021, 0, 1);
const NOW = Date.UTC(2021, 2, 1);

const rule = (fields: Partial<Rule> = {}): Rule => ({
  id: "r",
  event: "a",
  count: { op: "=", value: 2 },
  action: { type: "attribute", name: "r", value: "Ready" },
  reset: false,
  enabled: true,
  ...fields,
});

function event(user: string, day: number, id: string, price = "1"): PiaEvent {
  return {
    identity: id,
    appId: "app",
    userId: user,
    eventType: "a",
    timestamp: START + day * DAY_MS,
    attributes: {},
    metrics: [["price", price]],
  };
}

describe("PreviewTally", () => {
  it("applies each settled page in time order and keeps totals across pages", () => {
    // A lifetime `= 2` fires on the 2nd event: u1 reaches 2 on day 1, u2 only across the pages
    // (its repeated y3 counts once).
    const tally = new PreviewTally(rule(), { now: NOW, sampleSize: 10 });
    tally.add([event("u1", 1, "x1"), event("u2", 0, "y1"), event("u1", 0, "x0")]);
    tally.settle();
    tally.add([event("u1", 2, "x2"), event("u2", 3, "y3"), event("u2", 3, "y3")]);
    expect(tally.result()).toStrictEqual({
      qualifying: 2,
      sample: [
        { appId: "app", userId: "u1" },
        { appId: "app", userId: "u2" },
      ],
      usersSeen: 2,
      eventsMatched: 5,
    });
  });

  it("refuses, rather than answers wrongly, an event older than what a settle() applied", () => {
    const tally = new PreviewTally(rule(), { now: NOW, sampleSize: 10 });
    tally.add([event("u1", 5, "x5")]);
    tally.settle();
    tally.add([event("u1", 4, "x4")]);
    expect(() => tally.settle()).toThrow(/added after a settle\(\) that applied one/);
  });

  it("gives previewRule's answer when fed day by day, settling after each day", () => {
    const specArb = fc.record({
      user: fc.constantFrom("u1", "u2", "u3"),
      day: fc.integer({ min: 0, max: 5 }),
      cents: fc.integer({ min: -200, max: 400 }),
    });
    const ruleArb = fc.record({
      op: fc.constantFrom<"=" | ">" | ">=" | "<" | "<=">("=", ">", ">=", "<", "<="),
      target: fc.integer({ min: 0, max: 5 }),
      reset: fc.boolean(),
      window: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 40 }), ruleArb, (specs, r) => {
        if (!r.window && (r.op === "<" || r.op === "<=")) return;
        const draft = rule({
          count: { op: r.op, value: r.target },
          reset: r.reset && !r.window,
          ...(r.window ? { window: { from: "2021-01-02", to: "2021-01-05" } } : {}),
        });
        const events = specs.map((spec, index) =>
          event(spec.user, spec.day, `id:${index}`, (spec.cents / 100).toFixed(2)),
        );
        const tally = new PreviewTally(draft, { now: NOW, sampleSize: 10 });
        for (let day = 0; day <= 5; day++) {
          tally.add(events.filter((e) => e.timestamp === START + day * DAY_MS).reverse());
          tally.settle();
        }
        expect(tally.result()).toStrictEqual(previewRule(draft, events, { now: NOW, sampleSize: 10 }));
      }),
      { numRuns: 300 },
    );
  });
});
