import { counterKey, type PiaEvent, type Rule } from "@pia/core";
import { describe, expect, it } from "vitest";
import { explainStoredUser, storedCounterState, storedStateWords } from "../src/explainStoredUser.js";
import type { StageReader } from "../src/stageTables.js";

const RULE: Rule = {
  id: "views",
  event: "pageview",
  count: { op: ">", value: 1 },
  action: { type: "attribute", name: "views", value: "yes" },
  reset: false,
  enabled: true,
};

const pageview = (identity: string, timestamp: number): PiaEvent => ({
  identity,
  appId: "app",
  userId: "u1",
  eventType: "pageview",
  timestamp,
  attributes: {},
  metrics: [],
});

function reader(events: PiaEvent[], item: Record<string, unknown> | undefined) {
  const asked: unknown[] = [];
  const stage: StageReader = {
    userEvents: async (appId, userId, maxEvents) => {
      asked.push(["events", appId, userId, maxEvents]);
      return { events, unreadable: 1, truncated: true };
    },
    storedCounter: async (appId, userId, key) => {
      asked.push(["counter", appId, userId, key]);
      return item;
    },
  };
  return { stage, asked };
}

describe("explainStoredUser", () => {
  it("replays the user's stored events in time order and reads the rule's counter beside it", async () => {
    // Stored out of order (the table keeps no arrival order): in time order, the rule fires on the
    // second event (b) and, as it does not reset, counts no more (c); in stored order it would
    // have counted c and a.
    const { stage, asked } = reader([pageview("c", 3_000), pageview("a", 1_000), pageview("b", 2_000)], {
      pk: "secret-key",
      sk: "secret-sort",
      count: 3,
      sum: "0",
      fired: true,
      notified: 1,
      pending: [{}],
      raw: "x",
    });
    const result = await explainStoredUser(stage, RULE, {
      userId: "u1",
      appId: "app",
      now: 10_000,
      maxEvents: 5,
    });
    expect(asked).toEqual([
      ["events", "app", "u1", 5],
      ["counter", "app", "u1", counterKey(RULE)],
    ]);
    expect(result).toMatchObject({ eventsRead: 3, unreadable: 1, truncated: true, maxEvents: 5 });
    const [app] = result.explanation.apps;
    expect(app?.events.map((event) => event.identity)).toEqual(["b", "a"]);
    expect(app?.notifications.map((n) => n.at)).toEqual([new Date(2_000).toISOString()]);
    expect(result.stored).toStrictEqual({ count: 3, sum: "0", fired: true, notified: 1, pending: 1 });
  });

  it("says there is no stored state when the counters table has no item", async () => {
    const { stage } = reader([], undefined);
    const result = await explainStoredUser(stage, RULE, { userId: "u1", appId: "app", now: 0 });
    expect(result.stored).toBeUndefined();
    expect(result.maxEvents).toBe(100_000);
    expect(result.explanation.apps).toEqual([]);
  });

  it("keeps only the counters item's known fields, typed", () => {
    expect(
      storedCounterState({ count: "3", in: false, w: 5, dueAt: 7, pending: "x", other: 1 }),
    ).toStrictEqual({
      in: false,
      w: 5,
      dueAt: 7,
    });
  });

  it("says a held counter holds live matches, not its empty totals", () => {
    const held = storedCounterState({ count: 0, sum: "0", fired: false, held: [{ at: 1, seq: "1" }] });
    expect(held.held).toBe(1);
    expect(storedStateWords(held)).toBe("1 live match held until the backfill merges this user's history");
    expect(storedStateWords(storedCounterState({ count: 2, sum: "0", fired: false }))).toBe(
      "count 2, sum 0, not fired",
    );
  });
});
