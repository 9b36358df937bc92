import type { PiaEvent } from "@pia/core";
import { describe, expect, it } from "vitest";
import { InvalidRuleError, PreviewUnavailableError } from "../src/errors.js";
import type { ReadEventsByTypeDay } from "../src/ports.js";
import { makePreviewDraftRule, type PreviewDraftRuleDeps } from "../src/previewDraftRule.js";

/** 2024-03-15T12:00Z: today is 2024-03-15. */
const NOW = Date.UTC(2024, 2, 15, 12);

const DRAFT = {
  id: "buyers",
  event: "purchase",
  count: { op: ">=", value: 2 },
  action: { type: "attribute", name: "buyer" },
};

let sequence = 0;

function event(user: string, timestamp: number, eventType = "purchase"): PiaEvent {
  return {
    identity: `id:${++sequence}`,
    appId: "app-1",
    userId: user,
    eventType,
    timestamp,
    attributes: {},
    metrics: [],
  };
}

/** A fake index: events by `<type>#<day>`; records every (type, day) asked for. */
function fakeIndex(events: PiaEvent[] = []) {
  const asked: string[] = [];
  let yielded = 0;
  const read: ReadEventsByTypeDay = async function* (eventType, day) {
    asked.push(`${eventType}#${day}`);
    for (const e of events) {
      if (e.eventType === eventType && new Date(e.timestamp).toISOString().startsWith(day)) {
        yielded++;
        yield e;
      }
    }
  };
  return { read, asked, yielded: () => yielded };
}

function preview(read: ReadEventsByTypeDay | undefined, deps: Partial<PreviewDraftRuleDeps> = {}) {
  return makePreviewDraftRule({
    readEventsByTypeDay: read,
    now: () => NOW,
    days: 30,
    maxEvents: 1000,
    ...deps,
  });
}

describe("previewDraftRule", () => {
  it("previews a rule without a window on the last PREVIEW_DAYS days up to today", async () => {
    const index = fakeIndex([
      event("u1", Date.UTC(2024, 2, 15, 8)),
      event("u1", Date.UTC(2024, 1, 14, 23)),
      event("u2", Date.UTC(2024, 1, 16)),
      event("u2", Date.UTC(2024, 1, 17)),
      event("u3", Date.UTC(2024, 1, 20), "pageview"),
    ]);

    const answer = await preview(index.read)(DRAFT);

    expect(answer).toStrictEqual({
      qualifying: 1,
      sample: [{ appId: "app-1", userId: "u2" }],
      usersSeen: 2,
      eventsRead: 3,
      from: "2024-02-15",
      to: "2024-03-15",
      truncated: false,
    });
    expect(index.asked).toHaveLength(30);
    expect(index.asked[0]).toBe("purchase#2024-02-15");
    expect(index.asked.at(-1)).toBe("purchase#2024-03-15");
    expect(new Set(index.asked).size).toBe(30);
  });

  it.each<[string, object, number, string, string, number, boolean]>([
    [
      "a window that ended",
      { window: { from: "2024-01-30", to: "2024-02-02" } },
      30,
      "2024-01-30",
      "2024-02-02",
      4,
      false,
    ],
    [
      "a window still open: up to today",
      { window: { from: "2024-03-01", to: "2024-12-31" } },
      30,
      "2024-03-01",
      "2024-03-15",
      15,
      false,
    ],
    [
      "a window of one day",
      { window: { from: "2024-03-15", to: "2024-03-15" } },
      30,
      "2024-03-15",
      "2024-03-15",
      1,
      false,
    ],
    [
      "a window that starts after today: nothing to read",
      { window: { from: "2024-04-01", to: "2024-04-30" } },
      30,
      "2024-04-01",
      "2024-03-15",
      0,
      false,
    ],
    [
      "a window over 400 days: its last 400 days, truncated",
      { window: { from: "2020-01-01", to: "2030-12-31" } },
      30,
      "2023-02-10",
      "2024-03-15",
      400,
      true,
    ],
    ["no window, PREVIEW_DAYS 1: today only", {}, 1, "2024-03-15", "2024-03-15", 1, false],
    ["no window, PREVIEW_DAYS 400", {}, 400, "2023-02-10", "2024-03-15", 400, false],
  ])("reads %s", async (_case, fields, days, from, to, queries, truncated) => {
    const index = fakeIndex();
    const answer = await preview(index.read, { days })({ ...DRAFT, ...fields });

    expect(answer).toMatchObject({ from, to, truncated, eventsRead: 0, qualifying: 0 });
    expect(index.asked).toHaveLength(queries);
    if (queries > 0) {
      expect(index.asked[0]).toBe(`purchase#${from}`);
      expect(index.asked.at(-1)).toBe(`purchase#${to}`);
    }
  });

  it("applies the window to the events read, and ignores events after now", async () => {
    const index = fakeIndex([
      event("u1", Date.UTC(2024, 2, 15, 11)),
      event("u1", Date.UTC(2024, 2, 15, 13)),
      event("u2", Date.UTC(2024, 2, 15, 1)),
      event("u2", Date.UTC(2024, 2, 15, 2)),
    ]);
    const answer = await preview(index.read)({ ...DRAFT, window: { from: "2024-03-15", to: "2024-03-15" } });

    expect(answer).toMatchObject({ qualifying: 1, sample: [{ userId: "u2" }], eventsRead: 4 });
  });

  it.each([
    ["below the limit", 5, 5, false],
    ["exactly at the limit", 4, 4, false],
    ["over the limit: stops and says so", 3, 3, true],
    ["over the limit across days", 1, 1, true],
  ])("reads %s", async (_case, maxEvents, eventsRead, truncated) => {
    const index = fakeIndex([
      event("u1", Date.UTC(2024, 2, 10)),
      event("u1", Date.UTC(2024, 2, 11)),
      event("u2", Date.UTC(2024, 2, 11, 5)),
      event("u2", Date.UTC(2024, 2, 14)),
    ]);
    const answer = await preview(index.read, { maxEvents })(DRAFT);

    expect(answer).toMatchObject({ eventsRead: Math.min(eventsRead, 4), truncated });
    // It stops reading as soon as it knows: the event after the limit is the last one pulled.
    expect(index.yielded()).toBe(Math.min(maxEvents + 1, 4));
  });

  it("lists at most 20 qualifying users, sorted", async () => {
    const users = Array.from({ length: 25 }, (_, n) => `user-${String(n).padStart(2, "0")}`).reverse();
    const index = fakeIndex(users.flatMap((user) => [event(user, NOW - 1000), event(user, NOW - 2000)]));
    const answer = await preview(index.read)(DRAFT);

    expect(answer.qualifying).toBe(25);
    expect(answer.sample.map(({ userId }) => userId)).toStrictEqual(
      Array.from({ length: 20 }, (_, n) => `user-${String(n).padStart(2, "0")}`),
    );
  });

  it("previews a disabled draft as if enabled", async () => {
    const index = fakeIndex([event("u1", NOW - 1000), event("u1", NOW - 2000)]);
    expect((await preview(index.read)({ ...DRAFT, enabled: false })).qualifying).toBe(1);
  });

  it("refuses an invalid draft field by field, as POST /rules/validate does, before reading", async () => {
    const index = fakeIndex();
    const error = await preview(index.read)({ ...DRAFT, count: { op: "!=", value: 2 }, colour: "red" }).catch(
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(InvalidRuleError);
    expect((error as InvalidRuleError).errors.map(({ path }) => path)).toStrictEqual(["count.op", "colour"]);
    expect(index.asked).toStrictEqual([]);
  });

  it("is unavailable without the events table", async () => {
    await expect(preview(undefined)(DRAFT)).rejects.toBeInstanceOf(PreviewUnavailableError);
  });
});
