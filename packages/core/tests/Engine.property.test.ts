import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DateWindow, Operator, Rule } from "../src/index.js";
import { DAY_MS, Engine } from "../src/index.js";

/**
 * The engine against a deliberately naive model: for every rule and user, recompute the totals
 * from the full list of matching events at every step, in integer cents, with no shared code.
 */
const START = Date.UTC(2021, 0, 1);

interface Ev {
  user: string;
  type: string;
  k: string | undefined;
  cents: number | undefined;
  ts: number;
}

const evArb = fc.record({
  user: fc.constantFrom("u1", "u2", "u3"),
  type: fc.constantFrom("a", "b"),
  k: fc.option(fc.constantFrom("x", "y"), { nil: undefined }),
  cents: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
  ts: fc.integer({ min: START, max: START + 40 * DAY_MS }),
});

const opArb = fc.constantFrom<Operator>(">", ">=", "=", "<", "<=");

const ruleArb = (id: string) =>
  fc
    .record({
      event: fc.constantFrom("a", "b"),
      filter: fc.boolean(),
      count: fc.option(fc.record({ op: opArb, value: fc.integer({ min: 0, max: 4 }) }), { nil: undefined }),
      sum: fc.option(fc.record({ op: opArb, cents: fc.integer({ min: 0, max: 900 }) }), { nil: undefined }),
      window: fc.option(
        fc
          .tuple(fc.integer({ min: 0, max: 35 }), fc.integer({ min: 0, max: 10 }))
          .map(([from, length]) => ({ from, length })),
        { nil: undefined },
      ),
      reset: fc.boolean(),
    })
    .filter((r) => r.count !== undefined || r.sum !== undefined)
    .filter(
      (r) => r.window !== undefined || ![r.count?.op, r.sum?.op].some((op) => op === "<" || op === "<="),
    )
    .map((r): Rule & { window?: DateWindow; cents?: number } => {
      const day = (offset: number) => new Date(START + offset * DAY_MS).toISOString().slice(0, 10);
      return {
        id,
        event: r.event,
        ...(r.filter ? { where: { k: "x" } } : {}),
        ...(r.count === undefined ? {} : { count: r.count }),
        ...(r.sum === undefined
          ? {}
          : {
              sum: { metric: "m", op: r.sum.op, value: (r.sum.cents / 100).toFixed(2) },
              cents: r.sum.cents,
            }),
        ...(r.window === undefined
          ? {}
          : { window: { from: day(r.window.from), to: day(r.window.from + r.window.length) } }),
        action: { type: "attribute", name: id, value: "Ready" },
        reset: r.reset && r.window === undefined,
        enabled: true,
      };
    });

function compare(left: number, op: Operator, right: number): boolean {
  return op === ">"
    ? left > right
    : op === ">="
      ? left >= right
      : op === "="
        ? left === right
        : op === "<"
          ? left < right
          : left <= right;
}

function holds(rule: Rule & { window?: DateWindow; cents?: number }, events: Ev[]): boolean {
  const count = events.length;
  const cents = events.reduce((total, e) => total + (e.cents ?? 0), 0);
  return (
    (rule.count === undefined || compare(count, rule.count.op, rule.count.value)) &&
    (rule.sum === undefined || compare(cents, rule.sum.op, rule.cents ?? 0))
  );
}

function naive(
  rules: (Rule & { window?: DateWindow; cents?: number })[],
  events: Ev[],
  now: number,
): string[] {
  const out: string[] = [];
  for (const rule of rules) {
    const from = rule.window === undefined ? -Infinity : Date.parse(`${rule.window.from}T00:00:00Z`);
    const end = rule.window === undefined ? Infinity : Date.parse(`${rule.window.to}T00:00:00Z`) + DAY_MS;
    const closing =
      rule.window !== undefined &&
      [rule.count?.op, rule.sum?.op].some((op) => op === "=" || op === "<" || op === "<=");
    for (const user of ["u1", "u2", "u3"]) {
      const matching = events.filter(
        (e) =>
          e.user === user &&
          e.type === rule.event &&
          (rule.where === undefined || e.k === "x") &&
          e.ts >= from &&
          e.ts < end,
      );
      if (closing) {
        if (now >= end && matching.length > 0 && holds(rule, matching))
          out.push(`${rule.id}|${user}|${end - 1}`);
        continue;
      }
      let start = 0;
      for (let i = 0; i < matching.length; i++) {
        if (!holds(rule, matching.slice(start, i + 1))) continue;
        out.push(`${rule.id}|${user}|${matching[i]?.ts}`);
        if (!rule.reset) break;
        start = i + 1;
      }
    }
  }
  return out.sort();
}

function toLine(e: Ev, index: number): string {
  return JSON.stringify({
    event_type: e.type,
    event_timestamp: e.ts,
    session: { session_id: `s${index}` },
    attributes: e.k === undefined ? {} : { k: e.k },
    metrics: e.cents === undefined ? {} : { m: Number((e.cents / 100).toFixed(2)) },
    endpoint: { Id: "ep", User: { UserId: e.user } },
    application: { app_id: "app" },
  });
}

describe("Engine vs a naive recomputation", () => {
  it("gives the same notifications on random rules and events, with redeliveries", () => {
    fc.assert(
      fc.property(
        fc.array(evArb, { maxLength: 40 }),
        fc.tuple(ruleArb("r1"), ruleArb("r2"), ruleArb("r3")),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: START, max: START + 60 * DAY_MS }),
        (events, rules, redeliver, now) => {
          const lines = events.map(toLine);
          const withDuplicates = [...lines];
          for (const pick of redeliver) {
            if (lines.length > 0) withDuplicates.push(lines[pick % lines.length] as string);
          }
          const engine = new Engine(rules);
          const fired = [...withDuplicates.flatMap((line) => engine.ingest(line)), ...engine.close(now)];
          const actual = fired.map((n) => `${n.ruleId}|${n.userId}|${Date.parse(n.at)}`).sort();
          expect(actual).toEqual(naive(rules, events, now));
        },
      ),
      { numRuns: 400 },
    );
  });
});
