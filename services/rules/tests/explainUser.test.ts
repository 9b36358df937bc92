import type { StageReader } from "@pia/aws";
import { counterKey, type PiaEvent, type Rule } from "@pia/core";
import { describe, expect, it } from "vitest";
import { BadRequestError, ExplainUnavailableError, RuleNotFoundError } from "../src/errors.js";
import { makeExplainUser, readExplainRequest } from "../src/explainUser.js";
import { fakeStore } from "./fakeStore.js";

const NOW = Date.UTC(2030, 0, 10);
const DAY = 86_400_000;

const SPEND: Rule = {
  id: "spend",
  event: "purchase",
  count: { op: ">", value: 1 },
  sum: { metric: "price", op: ">", value: "100" },
  action: { type: "attribute", name: "big", value: "yes" },
  reset: false,
  enabled: true,
};
const ACTIVE: Rule = {
  id: "active",
  event: "pageview",
  count: { op: ">", value: 1 },
  window: { last: "7d" },
  action: { type: "attribute", name: "active_last_7d", value: "yes" },
  reset: false,
  enabled: false,
};

const event = (eventType: string, identity: string, timestamp: number, price?: number): PiaEvent => ({
  identity,
  appId: "app-1",
  userId: "u1",
  eventType,
  timestamp,
  attributes: {},
  metrics: price === undefined ? [] : [["price", String(price)]],
});

function setup(events: PiaEvent[], counters: Record<string, Record<string, unknown>> = {}) {
  const fake = fakeStore();
  for (const rule of [SPEND, ACTIVE]) fake.rules.set(rule.id, { rule, version: 1 });
  const reads: unknown[] = [];
  const reader: StageReader = {
    userEvents: async (appId, userId, maxEvents) => {
      reads.push({ appId, userId, maxEvents });
      return {
        events: events.filter((e) => e.appId === appId && e.userId === userId),
        unreadable: 0,
        truncated: false,
      };
    },
    storedCounter: async (_appId, _userId, key) => counters[key],
  };
  const explain = makeExplainUser({ store: fake.store, reader, now: () => NOW, maxEvents: 500 });
  return { explain, reads };
}

describe("makeExplainUser", () => {
  it("explains a sum rule: words, totals, holds, the notification, counted events newest first up to limit", async () => {
    const { explain, reads } = setup(
      [
        event("purchase", "p1", NOW - 3 * DAY, 60),
        event("purchase", "p3", NOW - DAY, 10),
        event("purchase", "p2", NOW - 2 * DAY, 50),
        event("pageview", "v1", NOW - DAY),
      ],
      {
        [counterKey(SPEND)]: {
          pk: "secret",
          sk: "k",
          count: 2,
          sum: "110",
          fired: true,
          notified: 1,
          pending: [],
        },
      },
    );
    const answer = await explain("spend", { userId: "u1", appId: "app-1", limit: 1 });
    expect(reads).toEqual([{ appId: "app-1", userId: "u1", maxEvents: 500 }]);
    expect(answer).toStrictEqual({
      ruleId: "spend",
      enabled: true,
      kind: "streaming",
      words: "purchase: count > 1 and sum of price > 100 (lifetime)",
      condition: "count > 1 and sum of price > 100",
      action: "set attribute big = yes",
      appId: "app-1",
      userId: "u1",
      now: new Date(NOW).toISOString(),
      totals: { count: 2, sum: "110", scope: "" },
      holds: true,
      verdict: "holds now",
      notifications: [
        { at: new Date(NOW - 2 * DAY).toISOString(), type: "attribute", name: "big", value: "yes" },
      ],
      notificationCount: 1,
      events: [{ at: new Date(NOW - 2 * DAY).toISOString(), identity: "p2", metric: "50" }],
      counted: 2,
      metricName: "price",
      read: { events: 4, unreadable: 0, truncated: false, maxEvents: 500 },
      stored: {
        count: 2,
        sum: "110",
        fired: true,
        notified: 1,
        pending: 0,
        words: "count 2, sum 110, fired, notifications 1",
      },
    });
  });

  it("explains a rolling rule at a given now (disabled rules as if enabled): window, entry and exit with seq", async () => {
    const { explain } = setup([
      event("pageview", "a", NOW - 20 * DAY),
      event("pageview", "b", NOW - 19 * DAY),
      event("pageview", "c", NOW - DAY),
    ]);
    const answer = await explain("active", { userId: "u1", appId: "app-1", now: "2030-01-10" });
    expect(answer).toMatchObject({
      enabled: false,
      kind: "rolling",
      words: "pageview: count > 1 in the last 7 days",
      totals: { count: 1, scope: "in the window" },
      window: { start: new Date(NOW - 7 * DAY).toISOString(), end: new Date(NOW).toISOString() },
      holds: false,
      verdict: "does not hold now",
      notifications: [
        { seq: 1, value: "yes" },
        { seq: 2, value: "" },
      ],
      counted: 3,
      stored: null,
    });
    expect(answer.events.map((e) => e.identity)).toEqual(["c", "b", "a"]);
  });

  it("says nothing counted for a user without events", async () => {
    const { explain } = setup([]);
    expect(await explain("spend", { userId: "nobody", appId: "" })).toMatchObject({
      totals: { count: 0, sum: "0" },
      holds: false,
      verdict: "no event counted, nothing to decide",
      events: [],
      counted: 0,
      stored: null,
    });
  });

  it("refuses an unknown rule (404), and answers unavailable without the tables (409)", async () => {
    await expect(setup([]).explain("nope", { userId: "u1", appId: "a" })).rejects.toBeInstanceOf(
      RuleNotFoundError,
    );
    const without = makeExplainUser({ store: fakeStore().store, reader: undefined, now: () => NOW });
    await expect(without("spend", { userId: "u1", appId: "a" })).rejects.toBeInstanceOf(
      ExplainUnavailableError,
    );
  });
});

describe("readExplainRequest", () => {
  it("defaults the limit and reads now as UTC", () => {
    expect(readExplainRequest({ userId: "u", appId: "" })).toEqual({ userId: "u", appId: "", limit: 20 });
    expect(
      readExplainRequest({ userId: "u", appId: "a", now: "2030-01-02T03:04:05+01:00", limit: 200 }),
    ).toEqual({
      userId: "u",
      appId: "a",
      now: Date.UTC(2030, 0, 2, 2, 4, 5),
      limit: 200,
    });
  });

  it.each([
    [null, /send \{ "userId"/],
    [[], /send \{ "userId"/],
    [{ userId: "", appId: "a" }, /^userId:/],
    [{ userId: 5, appId: "a" }, /^userId:/],
    [{ userId: "u" }, /^appId:/],
    [{ userId: "é".repeat(501), appId: "a" }, /^userId: a non-empty string of at most 1000 bytes/],
    [{ userId: "u", appId: "a".repeat(1001) }, /^appId:/],
    [{ userId: "u", appId: "a", now: "2030-01-02T03:04" }, /^now:/],
    [{ userId: "u", appId: "a", now: "yesterday" }, /^now:/],
    [{ userId: "u", appId: "a", limit: 0 }, /^limit:/],
    [{ userId: "u", appId: "a", limit: 201 }, /^limit:/],
    [{ userId: "u", appId: "a", limit: 2.5 }, /^limit:/],
    [{ userId: "u", appId: "a", user: "x" }, /unknown keys: user/],
  ])("refuses %j", (body, message) => {
    expect(() => readExplainRequest(body)).toThrow(BadRequestError);
    expect(() => readExplainRequest(body)).toThrow(message);
  });

  it("never echoes the user id in a refusal", () => {
    expect(() => readExplainRequest({ userId: "secret-user", appId: 3 })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining("secret-user") }),
    );
  });
});
