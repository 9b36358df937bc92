import { DAY_MS, type PiaEvent, previewRule, type Rule } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRuleError, PreviewUnavailableError } from "../src/errors.js";
import type { ReadEventsByTypeDay } from "../src/ports.js";
import {
  makePreviewDraftRule,
  PREVIEW_MAX_BYTES,
  PREVIEW_SAMPLE_SIZE,
  type PreviewDraftRuleDeps,
} from "../src/previewDraftRule.js";

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
    maxBytes: PREVIEW_MAX_BYTES,
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
    [
      "a rolling window shorter than PREVIEW_DAYS: the last PREVIEW_DAYS days",
      { window: { last: "7d" } },
      30,
      "2024-02-15",
      "2024-03-15",
      30,
      false,
    ],
    [
      "a rolling window longer than PREVIEW_DAYS: every day its window at now touches",
      { window: { last: "36h" } },
      1,
      "2024-03-14",
      "2024-03-15",
      2,
      false,
    ],
    [
      "a rolling window of 400 days from noon: 401 days, whole",
      { window: { last: "400d" } },
      30,
      "2023-02-09",
      "2024-03-15",
      401,
      false,
    ],
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

  it.each([
    ["the byte limit: stops before the event that would go over it", 1000, 0, "maxBytes", 2],
    ["the event limit", 3, 10_000_000, "maxEvents", 3],
  ] as const)(
    "answers partial: N events read at %s",
    async (_case, maxEvents, extraBytes, reason, eventsRead) => {
      const events = [
        event("u1", Date.UTC(2024, 2, 10)),
        event("u1", Date.UTC(2024, 2, 11)),
        event("u2", Date.UTC(2024, 2, 11, 5)),
        event("u2", Date.UTC(2024, 2, 14)),
      ];
      const size = (e: PiaEvent) => Buffer.byteLength(JSON.stringify(e), "utf8");
      // The bytes of the first two events and a part of the third's, unless the event limit is hit first.
      const maxBytes = size(events[0] as PiaEvent) + size(events[1] as PiaEvent) + 10 + extraBytes;
      const index = fakeIndex(events);
      const answer = await preview(index.read, { maxEvents, maxBytes })(DRAFT);

      expect(answer).toMatchObject({
        eventsRead,
        truncated: true,
        qualifying: 1,
        partial: {
          reason,
          eventsRead,
          message: `partial: ${eventsRead} events read (the preview reads at most ${
            reason === "maxBytes" ? `${maxBytes} bytes` : `${maxEvents} events`
          })`,
        },
      });
      expect(index.yielded()).toBe(eventsRead + 1);
    },
  );

  it("says partial when a window over 400 days was cut, and nothing when everything was read", async () => {
    const index = fakeIndex([event("u1", NOW - 1000)]);
    const cut = await preview(index.read)({ ...DRAFT, window: { from: "2020-01-01", to: "2030-12-31" } });
    expect(cut.partial).toStrictEqual({
      reason: "maxDays",
      eventsRead: 1,
      message: "partial: 1 events read (the preview reads at most the window's last 400 days)",
    });
    expect(await preview(index.read)(DRAFT)).not.toHaveProperty("partial");
  });

  it("tallies users as the index returns them, day by day and user by user, as previewRule on all events", async () => {
    const specArb = fc.record({
      user: fc.constantFrom("u1", "u2", "u3"),
      day: fc.integer({ min: 0, max: 4 }),
      minute: fc.integer({ min: 0, max: 1439 }),
      cents: fc.integer({ min: -300, max: 500 }),
      id: fc.integer({ min: 0, max: 30 }),
    });
    const ruleArb = fc
      .record({
        op: fc.constantFrom<"=" | ">" | ">=" | "<" | "<=">("=", ">", ">=", "<", "<="),
        target: fc.integer({ min: 0, max: 6 }),
        reset: fc.boolean(),
        sum: fc.boolean(),
        last: fc.option(fc.constantFrom("1h", "30h", "2d", "5d"), { nil: undefined }),
      })
      // Fewer than needs a window; a rolling rule resets with > / >= only.
      .filter((r) => r.last !== undefined || (r.op !== "<" && r.op !== "<="))
      .map((r) => ({ ...r, reset: r.reset && (r.last === undefined || r.op === ">" || r.op === ">=") }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { maxLength: 40 }),
        ruleArb,
        fc.integer(),
        async (specs, r, seed) => {
          const events = specs.map(
            (spec): PiaEvent => ({
              // A repeated id is the same stored event: the table keeps one item per (user, identity).
              identity: `id:${spec.user}-${spec.id}`,
              appId: "app-1",
              userId: spec.user,
              eventType: "purchase",
              timestamp: Date.UTC(2024, 2, 10) + spec.day * DAY_MS + spec.minute * 60_000,
              attributes: {},
              metrics: [["price", (spec.cents / 100).toFixed(2)]],
            }),
          );
          const stored = [...new Map(events.map((e) => [`${e.userId}/${e.identity}`, e])).values()];
          const draft: Rule = {
            id: "r",
            event: "purchase",
            ...(r.sum ? { sum: { metric: "price", op: r.op, value: String(r.target) } } : {}),
            ...(r.sum ? {} : { count: { op: r.op, value: r.target } }),
            ...(r.last === undefined ? {} : { window: { last: r.last } }),
            action: { type: "event", name: "trk_r" },
            reset: r.reset,
            enabled: true,
          };
          // The byTypeDay index: a day's items sorted by user, a user's in an order of its own.
          const shuffled = [...stored].sort(
            (a, b) => ((a.timestamp * 31 + seed) % 7) - ((b.timestamp * 31 + seed) % 7),
          );
          const read: ReadEventsByTypeDay = async function* (_type, day) {
            yield* shuffled
              .filter((e) => new Date(e.timestamp).toISOString().startsWith(day))
              .sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
          };
          const answer = await preview(read)(draft);
          const expected = previewRule(draft, stored, { now: NOW, sampleSize: PREVIEW_SAMPLE_SIZE });
          expect(answer).toMatchObject({
            qualifying: expected.qualifying,
            ...(expected.entered === undefined ? {} : { entered: expected.entered }),
            sample: expected.sample,
            usersSeen: expected.usersSeen,
            eventsRead: stored.length,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("previews a rolling rule: the users inside its window now, and how many entered", async () => {
    const index = fakeIndex([
      // u1: 3 in the last day (one after now, unknown yet): inside.
      event("u1", Date.UTC(2024, 2, 14, 13)),
      event("u1", Date.UTC(2024, 2, 15, 11)),
      event("u1", Date.UTC(2024, 2, 15, 13)),
      // u2: 2 within a day on March 1, left on March 2.
      event("u2", Date.UTC(2024, 2, 1, 8)),
      event("u2", Date.UTC(2024, 2, 1, 9)),
      // u3: 2, but 30 hours apart: never inside.
      event("u3", Date.UTC(2024, 2, 13, 6)),
      event("u3", Date.UTC(2024, 2, 14, 12)),
    ]);
    const answer = await preview(index.read)({ ...DRAFT, window: { last: "1d" } });

    expect(answer).toStrictEqual({
      qualifying: 1,
      entered: 2,
      sample: [{ appId: "app-1", userId: "u1" }],
      usersSeen: 3,
      eventsRead: 7,
      from: "2024-02-15",
      to: "2024-03-15",
      truncated: false,
    });
  });

  it("counts users inside a 'none in the last N days' rule from their older events", async () => {
    const index = fakeIndex([event("u1", Date.UTC(2024, 2, 1)), event("u2", Date.UTC(2024, 2, 14))]);
    const lapsed = { ...DRAFT, count: { op: "=", value: 0 }, window: { last: "7d" } };
    expect(await preview(index.read)(lapsed)).toMatchObject({
      qualifying: 1,
      entered: 1,
      sample: [{ userId: "u1" }],
    });
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
