import { describe, expect, it } from "vitest";
import type { Rule } from "../src/index.js";
import { Engine, RuleExplainer, ruleWords } from "../src/index.js";
import { record, rule, utc } from "./fixtures.js";

function explain(r: Rule, lines: string[], now: string, options: { user?: string; appId?: string } = {}) {
  const explainer = new RuleExplainer(r, options.user ?? "user-1", {
    ...(options.appId === undefined ? {} : { appId: options.appId }),
  });
  for (const line of lines) explainer.ingest(line);
  return explainer.explain(utc(now));
}

/** What `pia simulate` writes for the rule and the user: the reference the explanation must match. */
function simulated(r: Rule, lines: string[], now: string, user = "user-1") {
  const engine = new Engine([r]);
  const fired = [...lines.flatMap((line) => engine.ingest(line)), ...engine.close(utc(now))];
  return fired.filter((n) => n.userId === user);
}

const chairs = rule({
  id: "cheap-chairs",
  event: "purchase",
  where: { product: "chair" },
  count: { op: ">", value: 1 },
  sum: { metric: "price", op: "<", value: "180" },
  window: { from: "2021-01-01", to: "2021-02-28" },
});

const chairLines = [
  record({
    eventId: "a",
    ts: utc("2021-01-05T10:00:00"),
    attributes: { product: "chair" },
    metrics: { price: 50 },
  }),
  record({
    eventId: "a",
    ts: utc("2021-01-05T10:00:00"),
    attributes: { product: "chair" },
    metrics: { price: 50 },
  }),
  record({
    eventId: "b",
    ts: utc("2021-01-20T10:00:00"),
    attributes: { product: "chair" },
    metrics: { price: 60.5 },
  }),
  record({
    eventId: "c",
    ts: utc("2021-01-21T10:00:00"),
    attributes: { product: "desk" },
    metrics: { price: 900 },
  }),
  record({
    eventId: "d",
    ts: utc("2021-03-02T10:00:00"),
    attributes: { product: "chair" },
    metrics: { price: 1 },
  }),
  record({ eventId: "e", user: "user-2", attributes: { product: "chair" }, metrics: { price: 1 } }),
];

describe("RuleExplainer", () => {
  it("puts rules in words", () => {
    expect(
      ruleWords(
        rule({
          id: "big",
          event: "purchase",
          where: { product: "chair" },
          count: { op: ">", value: 1 },
          sum: { metric: "price", op: ">", value: "180" },
          window: { from: "2021-01-01", to: "2021-02-28" },
        }),
      ),
    ).toBe(
      "purchase where product = chair: count > 1 and sum of price > 180, between 2021-01-01 and 2021-02-28 (streaming)",
    );
    expect(ruleWords(chairs)).toContain("(closing)");
    expect(
      ruleWords(rule({ id: "p", event: "pageview", count: { op: ">", value: 5 }, window: { last: "7d" } })),
    ).toBe("pageview: count > 5 in the last 7 days");
    expect(ruleWords(rule({ id: "x", event: "lesson", count: { op: "=", value: 2 }, reset: true }))).toBe(
      "lesson: count = 2 (lifetime), again each time it is reached (reset)",
    );
  });

  it("a closing rule before its window closes: totals, the condition, not yet decided", () => {
    const explanation = explain(chairs, chairLines.slice(0, 4), "2021-02-10T00:00:00");
    expect(explanation.kind).toBe("closing");
    expect(explanation.closesAt).toBe(utc("2021-03-01T00:00:00"));
    expect(explanation.apps).toHaveLength(1);
    const [app] = explanation.apps;
    expect(app).toMatchObject({ appId: "app-1", count: 2, sum: "110.5", holds: true, notifications: [] });
    // De-duplicated (a is read twice), filtered (c is a desk), newest first.
    expect(app?.events.map((e) => [e.identity, e.metric])).toEqual([
      ["id:b", "60.5"],
      ["id:a", "50"],
    ]);
  });

  it("a closing rule after its window closed: fired at the window's last millisecond, as simulate", () => {
    const explanation = explain(chairs, chairLines, "2021-03-05T00:00:00");
    const [app] = explanation.apps;
    expect(app?.notifications.map((n) => n.at)).toEqual(["2021-02-28T23:59:59.999Z"]);
    expect(app?.notifications).toEqual(simulated(chairs, chairLines, "2021-03-05T00:00:00"));
    // The March event is outside the window: it does not count.
    expect(app).toMatchObject({ count: 2, sum: "110.5" });
  });

  it("a reset rule: every firing, totals since the last one", () => {
    const every2 = rule({ id: "every2", event: "lesson", count: { op: "=", value: 2 }, reset: true });
    const lines = [1, 2, 3, 4, 5].map((d) => record({ type: "lesson", ts: utc(`2021-01-0${d}T08:00:00`) }));
    const explanation = explain(every2, lines, "2021-02-01");
    const [app] = explanation.apps;
    expect(app?.notifications.map((n) => n.at)).toEqual([
      "2021-01-02T08:00:00.000Z",
      "2021-01-04T08:00:00.000Z",
    ]);
    expect(app?.notifications).toEqual(simulated(every2, lines, "2021-02-01"));
    expect(app).toMatchObject({ count: 1, holds: false });
    expect(app?.events.map((e) => e.at)).toEqual([5, 4, 3, 2, 1].map((d) => utc(`2021-01-0${d}T08:00:00`)));
  });

  it("a rolling rule: entries and exits with seq, the window at now", () => {
    const active = rule({
      id: "active",
      event: "lesson",
      count: { op: ">", value: 1 },
      window: { last: "7d" },
    });
    const lines = [
      record({ type: "lesson", ts: utc("2021-01-01T00:00:00") }),
      record({ type: "lesson", ts: utc("2021-01-03T00:00:00") }),
      record({ type: "lesson", ts: utc("2021-01-20T00:00:00") }),
    ];
    const explanation = explain(active, lines, "2021-01-22T00:00:00");
    const [app] = explanation.apps;
    expect(app?.notifications.map((n) => [n.at, n.seq, n.value])).toEqual([
      ["2021-01-03T00:00:00.000Z", 1, "Ready"],
      ["2021-01-08T00:00:00.000Z", 2, ""],
    ]);
    expect(app?.notifications).toEqual(simulated(active, lines, "2021-01-22T00:00:00"));
    expect(app).toMatchObject({
      count: 1,
      holds: false,
      window: { start: utc("2021-01-15T00:00:00"), end: utc("2021-01-22T00:00:00") },
    });
    expect(app?.events).toHaveLength(3);
  });

  it("one block per app, or only --app's", () => {
    const lines = [
      record({ type: "lesson", app: "a1" }),
      record({ type: "lesson", app: "a2", eventId: "x" }),
      record({ type: "pageview", app: "a3" }),
    ];
    const r = rule({ id: "one", event: "lesson", count: { op: ">=", value: 1 } });
    expect(
      explain(r, lines, "2021-02-01").apps.map((a) => [a.appId, a.count, a.notifications.length]),
    ).toEqual([
      ["a1", 1, 1],
      ["a2", 1, 1],
      // The user has events in a3, none of which counted.
      ["a3", 0, 0],
    ]);
    expect(explain(r, lines, "2021-02-01", { appId: "a2" }).apps.map((a) => a.appId)).toEqual(["a2"]);
  });

  it("a user with no events has no app", () => {
    expect(explain(chairs, chairLines, "2021-03-05", { user: "nobody" }).apps).toEqual([]);
  });
});
