import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { PiaEvent, Rule } from "../src/index.js";
import { DAY_MS, Engine, PreviewTally, previewRule } from "../src/index.js";

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

  it("previews a rolling rule: the users inside its window at now, and those who entered at some point", () => {
    // "more than 1 in the last 3 days", now = day 10 (00:00).
    const active = rule({ count: { op: ">", value: 1 }, window: { last: "3d" } });
    const events = [
      // u1: two events on days 8 and 9, inside at now.
      event("u1", 8, "a1"),
      event("u1", 9, "a2"),
      // u2: entered on day 2, left on day 4 (day 1's event expired).
      event("u2", 1, "b1"),
      event("u2", 2, "b2"),
      // u3: one event only, never entered.
      event("u3", 9, "c1"),
      // u4: its second event is after now, not known yet.
      event("u4", 9, "d1"),
      event("u4", 11, "d2"),
    ];
    const now = START + 10 * DAY_MS;
    expect(previewRule(active, events, { now, sampleSize: 10 })).toStrictEqual({
      qualifying: 1,
      sample: [{ appId: "app", userId: "u1" }],
      entered: 2,
      usersSeen: 4,
      eventsMatched: 6,
    });
    // At day 11 (00:00) u1's day-8 event has expired (u1 left), and u4's second event is known.
    expect(previewRule(active, events, { now: START + 11 * DAY_MS, sampleSize: 10 })).toMatchObject({
      qualifying: 1,
      sample: [{ appId: "app", userId: "u4" }],
      entered: 3,
    });
  });

  it("counts a user inside a 'no event for N days' rule once time has passed their events", () => {
    const lapsed = rule({ count: { op: "=", value: 0 }, window: { last: "7d" } });
    const events = [event("u1", 0, "a1"), event("u2", 5, "b1")];
    const result = previewRule(lapsed, events, { now: START + 10 * DAY_MS, sampleSize: 10 });
    // u1's event expired on day 7: inside; u2's expires on day 12.
    expect(result).toMatchObject({ qualifying: 1, sample: [{ appId: "app", userId: "u1" }], entered: 1 });
  });

  it("qualifies the users a resetting rolling rule fired for at least once (they never stay inside)", () => {
    const streak = rule({
      count: { op: ">=", value: 2 },
      window: { last: "36h" },
      action: { type: "event", name: "trk_streak" },
      reset: true,
    });
    const events = [event("u1", 0, "a1"), event("u1", 1, "a2"), event("u2", 0, "b1"), event("u2", 3, "b2")];
    expect(previewRule(streak, events, { now: NOW, sampleSize: 10 })).toMatchObject({
      qualifying: 1,
      sample: [{ appId: "app", userId: "u1" }],
      entered: 1,
    });
  });

  it("decides a rolling rule as pia simulate's engine does, fed day by day (property)", () => {
    const HOUR = 3_600_000;
    const specArb = fc.record({
      user: fc.constantFrom("u1", "u2", "u3"),
      hour: fc.integer({ min: 0, max: 8 * 24 }),
      cents: fc.integer({ min: -200, max: 400 }),
    });
    const ruleArb = fc.record({
      op: fc.constantFrom<"=" | ">" | ">=" | "<" | "<=">("=", ">", ">=", "<", "<="),
      target: fc.integer({ min: 0, max: 4 }),
      sum: fc.boolean(),
      last: fc.constantFrom("1h", "20h", "1d", "2d", "5d"),
      reset: fc.boolean(),
      nowHour: fc.integer({ min: 0, max: 12 * 24 }),
    });
    fc.assert(
      fc.property(fc.array(specArb, { maxLength: 40 }), ruleArb, (specs, r) => {
        const resets = r.reset && (r.op === ">" || r.op === ">=");
        const { count: _count, ...base } = rule();
        const draft: Rule = {
          ...base,
          ...(r.sum
            ? { sum: { metric: "price", op: r.op, value: String(r.target) } }
            : { count: { op: r.op, value: r.target } }),
          window: { last: r.last },
          ...(resets ? { action: { type: "event", name: "trk_r" }, reset: true } : {}),
        };
        const now = START + r.nowHour * HOUR;
        const events = specs.map(
          (spec, index): PiaEvent => ({
            ...event(spec.user, 0, `id:${String(index).padStart(3, "0")}`, (spec.cents / 100).toFixed(2)),
            timestamp: START + spec.hour * HOUR,
          }),
        );
        // The engine on the events known at now, in time order (ties by identity), then time to now.
        const engine = new Engine([draft]);
        const known = events
          .filter((e) => e.timestamp <= now)
          .sort((a, b) => a.timestamp - b.timestamp || (a.identity < b.identity ? -1 : 1));
        const notes = [...known.flatMap((e) => engine.apply(e)), ...engine.close(now)];
        const users = [...new Set(notes.map((n) => n.userId))].sort();
        const entered = users.filter((u) => notes.some((n) => n.userId === u && n.value !== ""));
        const lastOf = (u: string) =>
          notes
            .filter((n) => n.userId === u)
            .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
            .at(-1);
        const inside = resets ? entered : users.filter((u) => lastOf(u)?.value === "Ready");

        const tally = new PreviewTally(draft, { now, sampleSize: 10 });
        for (let day = 0; day <= 8; day++) {
          const dayEvents = events.filter((e) => Math.floor((e.timestamp - START) / DAY_MS) === day);
          for (const user of ["u3", "u1", "u2"])
            tally.add(dayEvents.filter((e) => e.userId === user).reverse());
          tally.settle();
        }
        const result = tally.result();
        expect(result.sample.map((u) => u.userId)).toStrictEqual(inside);
        expect(result.entered).toBe(entered.length);
      }),
      { numRuns: 300 },
    );
  });
});
