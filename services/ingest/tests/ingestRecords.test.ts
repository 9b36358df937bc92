import { MAX_RECORD_BYTES, recordReader, SKIP_REASONS } from "@pia/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type IngestRecord, makeIngestRecords } from "../src/ingestRecords.js";
import { MAX_RAW_BYTES } from "../src/quarantineItem.js";
import { fakeTables, NOW, pinpointEvent, record, recordingLog } from "./fixtures.js";

const DAY_S = 86_400;
/** Start of NOW's UTC day, epoch seconds. */
const TODAY_S = Date.UTC(2024, 2, 15) / 1000;

function setup(
  tables = fakeTables(),
  retention = { eventRetentionDays: 400, quarantineRetentionDays: 14 },
  previewIndex?: boolean,
) {
  const log = recordingLog();
  const ingestRecords = makeIngestRecords({
    writeEvents: tables.writeEvents,
    writeQuarantine: tables.writeQuarantine,
    now: () => NOW,
    log,
    ...retention,
    ...(previewIndex === undefined ? {} : { previewIndex }),
  });
  return { ingestRecords, tables, log };
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((total, value) => total + value, 0);
}

describe("skipped records", () => {
  const cases = [
    ["bad_json", '{"event_type": "purchase",'],
    ["bad_event", JSON.stringify(pinpointEvent({ event_type: "" }))],
    ["no_user", JSON.stringify(pinpointEvent({ endpoint: { Id: "ep-1" } }))],
    ["bad_timestamp", JSON.stringify(pinpointEvent({ event_timestamp: "1710000000000" }))],
    ["bad_metric", JSON.stringify(pinpointEvent({ metrics: { price: "12.5" } }))],
  ] as const;

  it("covers every skip reason of the core", () => {
    // too_large has its own test below: its raw payload is cut to MAX_RAW_BYTES.
    expect([...cases.map(([reason]) => reason), "too_large"].sort()).toStrictEqual([...SKIP_REASONS].sort());
  });

  it("quarantines a record over 1 MiB as too_large, unread, whatever it holds", async () => {
    const { ingestRecords, tables } = setup();
    // Only an unstored field is long: the event's item would fit DynamoDB.
    const payload = JSON.stringify({ ...pinpointEvent(), padding: "x".repeat(MAX_RECORD_BYTES) });
    const result = await ingestRecords([record("1", payload), record("2", pinpointEvent())]);

    expect(tables.events).toHaveLength(1);
    expect(tables.quarantine).toMatchObject([
      {
        pk: "too_large#2024-03-15",
        reason: "too_large",
        detail: expect.stringMatching(/over 1 MiB/),
        truncated: true,
      },
    ]);
    expect(payload.startsWith(tables.quarantine[0]?.raw ?? "x")).toBe(true);
    expect(result.counts).toMatchObject({ records: 2, applied: 1, skipped: { too_large: 1 } });
    expect(result.batchItemFailures).toStrictEqual([]);
  });

  it.each(cases)("%s goes to quarantine with its raw payload and reason", async (reason, payload) => {
    const { ingestRecords, tables } = setup();
    const result = await ingestRecords([
      record("49590338271490256608559692538361571095921575989136588898", payload),
    ]);

    expect(tables.eventCalls).toHaveLength(0);
    expect(tables.quarantine).toStrictEqual([
      {
        pk: `${reason}#2024-03-15`,
        sk: "0001710498600123#49590338271490256608559692538361571095921575989136588898",
        reason,
        detail: expect.stringMatching(/\S/),
        raw: payload,
        receivedAt: "2024-03-15T10:30:00.123Z",
        expiresAt: Math.floor(NOW / 1000) + 14 * DAY_S,
      },
    ]);
    expect(result.batchItemFailures).toStrictEqual([]);
    expect(result.counts.skipped[reason]).toBe(1);
    expect(sum(result.counts.skipped)).toBe(1);
  });

  it("keeps the arrival time and a payload that is not UTF-8", async () => {
    const { ingestRecords, tables } = setup();
    const binary = { sequenceNumber: "7", data: Buffer.from([0xff, 0xfe, 0x00, 0x7b]).toString("base64") };
    await ingestRecords([{ ...binary, approximateArrivalTimestamp: Date.UTC(2024, 2, 15, 10, 29, 59, 500) }]);

    expect(tables.quarantine).toMatchObject([
      { reason: "bad_json", raw: "\ufffd\ufffd\u0000{", arrivedAt: "2024-03-15T10:29:59.500Z" },
    ]);
  });

  it("cuts a raw payload over 256 KiB at a character boundary and flags it", async () => {
    const { ingestRecords, tables } = setup();
    const payload = `{${"é".repeat(150_000)}`;
    await ingestRecords([record("1", payload)]);

    const [item] = tables.quarantine;
    expect(item?.truncated).toBe(true);
    expect(payload.startsWith(item?.raw ?? "x")).toBe(true);
    const bytes = Buffer.byteLength(item?.raw ?? "", "utf8");
    expect(bytes).toBeLessThanOrEqual(MAX_RAW_BYTES);
    expect(bytes).toBeGreaterThan(MAX_RAW_BYTES - 2);
  });

  it("does not flag a payload of exactly 256 KiB", async () => {
    const { ingestRecords, tables } = setup();
    const payload = `{${"x".repeat(MAX_RAW_BYTES - 1)}`;
    await ingestRecords([record("1", payload)]);

    expect(tables.quarantine[0]?.raw).toBe(payload);
    expect(tables.quarantine[0]).not.toHaveProperty("truncated");
  });

  it.each([
    ["an event_id over DynamoDB's sort key limit", { event_id: "e".repeat(1100) }, /sort key/],
    [
      "a user id over DynamoDB's partition key limit",
      { endpoint: { User: { UserId: "u".repeat(2100) } } },
      /partition key/,
    ],
    ["attributes over DynamoDB's item limit", { attributes: { note: "n".repeat(410_000) } }, /item is about/],
  ])("quarantines a valid event with %s as too_large", async (_case, fields, detail) => {
    const { ingestRecords, tables } = setup();
    const payload = JSON.stringify(pinpointEvent(fields));
    const result = await ingestRecords([record("1", payload), record("2", pinpointEvent())]);

    expect(tables.events).toHaveLength(1);
    expect(tables.quarantine).toMatchObject([{ pk: "too_large#2024-03-15", reason: "too_large", detail }]);
    expect(payload.startsWith(tables.quarantine[0]?.raw ?? "x")).toBe(true);
    expect(result.counts).toMatchObject({ applied: 1, skipped: { too_large: 1 } });
    expect(result.batchItemFailures).toStrictEqual([]);
  });
});

describe("ignored records", () => {
  it.each(["_session.start", "_monetization.purchase", "trk_lesson_completed"])(
    "%s is counted, not written",
    async (eventType) => {
      const { ingestRecords, tables } = setup();
      const result = await ingestRecords([record("1", pinpointEvent({ event_type: eventType }))]);

      expect(tables.eventCalls).toHaveLength(0);
      expect(tables.quarantineCalls).toHaveLength(0);
      expect(result.counts).toMatchObject({ records: 1, ignored: 1, applied: 0 });
    },
  );
});

describe("events", () => {
  it("writes the item in its exact shape", async () => {
    const { ingestRecords, tables } = setup();
    await ingestRecords([record("1", pinpointEvent({ event_id: "evt-1" }))]);

    expect(tables.eventCalls).toStrictEqual([
      [
        {
          pk: "5:app-1#customer-1042",
          sk: "id:evt-1",
          appId: "app-1",
          userId: "customer-1042",
          endpointId: "ep-1",
          eventType: "purchase",
          ts: Date.UTC(2024, 2, 14, 8, 0, 0),
          attributes: { product: "chair", campaign: "spring" },
          metrics: '[["price","129.99"],["quantity","2"]]',
          expiresAt: TODAY_S + 400 * DAY_S,
          arrivedAt: NOW,
        },
      ],
    ]);
  });

  it.each([
    ["an old event: from now", Date.UTC(2020, 0, 1), 400, TODAY_S + 400 * DAY_S],
    ["an event of today: from today", NOW - 1000, 400, TODAY_S + 400 * DAY_S],
    [
      "a future event: from its day",
      Date.UTC(2024, 2, 20, 5, 0),
      400,
      Date.UTC(2024, 2, 20) / 1000 + 400 * DAY_S,
    ],
    ["an old event, one day of retention", Date.UTC(2020, 0, 1), 1, TODAY_S + DAY_S],
  ])("expires %s", async (_case, eventTime, days, expiresAt) => {
    const { ingestRecords, tables } = setup(fakeTables(), {
      eventRetentionDays: days,
      quarantineRetentionDays: 14,
    });
    await ingestRecords([record("1", pinpointEvent({ event_timestamp: eventTime }))]);

    expect(tables.events[0]?.expiresAt).toBe(expiresAt);
    // Never already expired: a redelivery must find the item (and write nothing), not insert it again.
    expect(expiresAt * 1000).toBeGreaterThan(NOW);
  });

  it("writes an event delivered several times in one batch once, the first one", async () => {
    const { ingestRecords, tables } = setup();
    const result = await ingestRecords([
      record("1", pinpointEvent({ event_id: "evt-1", metrics: { price: 1 } })),
      record("2", pinpointEvent({ event_id: "evt-1", metrics: { price: 2 } })),
      record("3", pinpointEvent({ event_id: "evt-2" })),
      record("4", pinpointEvent({ arrival_timestamp: 1 })),
      record("5", pinpointEvent({ event_id: "evt-1", metrics: { price: 3 } })),
      record("6", pinpointEvent({ arrival_timestamp: 2 })),
    ]);

    expect(tables.eventCalls).toHaveLength(1);
    expect(tables.events.map(({ sk }) => sk.split(":")[0])).toStrictEqual(["id", "id", "h"]);
    expect(tables.events[0]).toMatchObject({ sk: "id:evt-1", metrics: '[["price","1"]]' });
    expect(result.counts).toMatchObject({ records: 6, applied: 3, duplicate: 3 });
    expect(result.batchItemFailures).toStrictEqual([]);
  });

  it("keeps an event stored by an earlier batch as it is, and counts its redelivery as a duplicate", async () => {
    const tables = fakeTables();
    let now = NOW;
    const ingestRecords = makeIngestRecords({
      writeEvents: tables.writeEvents,
      writeQuarantine: tables.writeQuarantine,
      now: () => now,
      log: recordingLog(),
      eventRetentionDays: 400,
      quarantineRetentionDays: 14,
    });
    await ingestRecords([record("1", pinpointEvent({ event_id: "evt-1", metrics: { price: 1 } }))]);

    // Redelivered an hour later, with other content (a producer's duplicate): the first one wins.
    now = NOW + 3_600_000;
    const result = await ingestRecords([
      record("1", pinpointEvent({ event_id: "evt-1", metrics: { price: 2 } })),
      record("2", pinpointEvent({ event_id: "evt-1", metrics: { price: 3 } })),
      record("3", pinpointEvent({ event_id: "evt-2" })),
    ]);

    expect(tables.events).toHaveLength(2);
    expect(tables.events[0]).toMatchObject({ sk: "id:evt-1", metrics: '[["price","1"]]', arrivedAt: NOW });
    expect(tables.events[1]).toMatchObject({ sk: "id:evt-2", arrivedAt: NOW + 3_600_000 });
    expect(result.counts).toMatchObject({ records: 3, applied: 1, duplicate: 2, failed: 0 });
    expect(result.batchItemFailures).toStrictEqual([]);
  });

  it("keeps going past poison records: no item failure, every good event written", async () => {
    const { ingestRecords, tables } = setup();
    const result = await ingestRecords([
      record("1", pinpointEvent({ event_id: "a" })),
      record("2", "\u0000\u0001 not json"),
      record("3", "null"),
      { sequenceNumber: "4", data: "%%% not base64 %%%" },
      record("5", pinpointEvent({ event_type: "trk_x" })),
      record("6", pinpointEvent({ event_id: "b", metrics: { price: "NaN" } })),
      record("7", pinpointEvent({ event_id: "c" })),
    ]);

    expect(result.batchItemFailures).toStrictEqual([]);
    expect(tables.events.map(({ sk }) => sk)).toStrictEqual(["id:a", "id:c"]);
    expect(tables.quarantine.map(({ reason }) => reason)).toStrictEqual([
      "bad_json",
      "bad_event",
      "bad_json",
      "bad_metric",
    ]);
    expect(result.counts).toMatchObject({ records: 7, applied: 2, ignored: 1, failed: 0 });
  });

  it("writes nothing for an empty batch", async () => {
    const { ingestRecords, tables } = setup();
    const result = await ingestRecords([]);

    expect(tables.eventCalls).toHaveLength(0);
    expect(tables.quarantineCalls).toHaveLength(0);
    expect(result).toStrictEqual({
      batchItemFailures: [],
      counts: {
        records: 0,
        applied: 0,
        duplicate: 0,
        ignored: 0,
        skipped: {
          bad_json: 0,
          bad_event: 0,
          no_user: 0,
          bad_timestamp: 0,
          bad_metric: 0,
          too_large: 0,
          parse_error: 0,
        },
        failed: 0,
      },
    });
  });
});

describe("the byTypeDay index (PREVIEW_INDEX)", () => {
  const RETENTION = { eventRetentionDays: 400, quarantineRetentionDays: 14 };
  const batch = [
    record("1", pinpointEvent({ event_id: "a" })),
    record(
      "2",
      pinpointEvent({
        event_id: "b",
        event_type: "pageview",
        event_timestamp: Date.UTC(2023, 11, 31, 23, 59),
      }),
    ),
  ];

  it.each([
    ["not set", undefined],
    ["false", false],
  ])("writes no typeDay when previewIndex is %s", async (_case, previewIndex) => {
    const { ingestRecords, tables } = setup(fakeTables(), RETENTION, previewIndex);
    await ingestRecords(batch);

    expect(tables.events).toHaveLength(2);
    for (const item of tables.events) expect(item).not.toHaveProperty("typeDay");
  });

  it("writes typeDay = <event type>#<UTC day of the event time> when previewIndex is true", async () => {
    const { ingestRecords, tables } = setup(fakeTables(), RETENTION, true);
    const result = await ingestRecords(batch);

    expect(tables.events.map(({ sk, typeDay }) => [sk, typeDay])).toStrictEqual([
      ["id:a", "purchase#2024-03-14"],
      ["id:b", "pageview#2023-12-31"],
    ]);
    expect(result.counts).toMatchObject({ applied: 2, failed: 0 });
  });

  it.each([
    // The index's sort key is the user key: at most 1023 bytes there, 2047 in the table.
    ["a user key too long for the index's sort key", { endpoint: { User: { UserId: "u".repeat(1100) } } }],
    ["an event type too long for the index's partition key", { event_type: "e".repeat(2100) }],
  ])("stores an event with %s without typeDay, and still applies it", async (_case, fields) => {
    const { ingestRecords, tables } = setup(fakeTables(), RETENTION, true);
    const result = await ingestRecords([record("1", pinpointEvent(fields)), ...batch]);

    expect(result.counts).toMatchObject({ applied: 3, skipped: { too_large: 0 } });
    expect(tables.events.map(({ typeDay }) => typeDay)).toStrictEqual([
      undefined,
      "purchase#2024-03-14",
      "pageview#2023-12-31",
    ]);
    expect(tables.events[0]).not.toHaveProperty("typeDay");
  });

  it("stores an event that fits DynamoDB's item size only without typeDay, without it", async () => {
    const MAX_ITEM_BYTES = 400 * 1024;
    const padded = (pad: number) => pinpointEvent({ attributes: { pad: "x".repeat(pad) } });
    const probe = setup(fakeTables(), RETENTION, false);
    await probe.ingestRecords([record("1", padded(1))]);
    const size = Buffer.byteLength(JSON.stringify(probe.tables.events[0]), "utf8");
    const fits = padded(1 + MAX_ITEM_BYTES - size - 4);

    const { ingestRecords, tables } = setup(fakeTables(), RETENTION, true);
    const result = await ingestRecords([record("1", fits)]);

    expect(result.counts).toMatchObject({ applied: 1, skipped: { too_large: 0 } });
    expect(Buffer.byteLength(JSON.stringify(tables.events[0]), "utf8")).toBe(MAX_ITEM_BYTES - 4);
    expect(tables.events[0]).not.toHaveProperty("typeDay");
  });
});

describe("write failures", () => {
  const batch: IngestRecord[] = [
    record("100", pinpointEvent({ endpoint: { User: { UserId: "user-a" } } })),
    record("101", pinpointEvent({ endpoint: { User: { UserId: "user-b" } } })),
    record("102", "not json"),
    record("103", pinpointEvent({ endpoint: { User: { UserId: "user-c" } } })),
    record("104", pinpointEvent({ endpoint: { User: { UserId: "user-b" } } })),
    record("105", pinpointEvent({ endpoint: { User: {} } })),
  ];

  type Leave = Parameters<typeof fakeTables>[0];
  it.each<[string, Leave, string[], number, number]>([
    ["nothing left unwritten", {}, [], 3, 2],
    [
      "an event item (with its duplicate)",
      { events: (item) => item.userId === "user-b" },
      ["101", "104"],
      2,
      2,
    ],
    ["two event items", { events: (item) => item.userId !== "user-b" }, ["100", "103"], 1, 2],
    ["a quarantine item", { quarantine: (item) => item.reason === "no_user" }, ["105"], 3, 1],
    [
      "items of both tables",
      { events: (item) => item.userId === "user-c", quarantine: (item) => item.reason === "bad_json" },
      ["102", "103"],
      2,
      1,
    ],
  ])("reports the records of %s as item failures", async (_case, leave, failed, events, quarantined) => {
    const { ingestRecords, tables, log } = setup(fakeTables(leave));
    const result = await ingestRecords(batch);

    expect(result.batchItemFailures).toStrictEqual(failed.map((itemIdentifier) => ({ itemIdentifier })));
    expect(result.counts.failed).toBe(failed.length);
    expect(tables.events).toHaveLength(events);
    expect(tables.quarantine).toHaveLength(quarantined);
    expect(log.calls.filter(({ level }) => level === "warn")).toHaveLength(Object.keys(leave ?? {}).length);
    expect(JSON.stringify(log.calls)).not.toMatch(/user-|not json/);
  });

  it("throws a write error that retrying cannot fix, after both writes have settled", async () => {
    const tables = fakeTables();
    const denied = new Error("User is not authorized to perform: dynamodb:PutItem");
    const { ingestRecords } = setup({
      ...tables,
      writeEvents: async () => {
        throw denied;
      },
    });

    await expect(ingestRecords(batch)).rejects.toBe(denied);
    expect(tables.quarantine).toHaveLength(2);
  });
});

describe("counts (property)", () => {
  const payloads = [
    pinpointEvent({ event_id: "a" }),
    pinpointEvent({ event_id: "b" }),
    pinpointEvent({ event_id: "a", metrics: { price: 5 } }),
    pinpointEvent(),
    pinpointEvent({ arrival_timestamp: 0 }),
    pinpointEvent({ event_type: "_session.stop" }),
    pinpointEvent({ endpoint: {} }),
    "[]",
    "{",
  ].map((payload) => (typeof payload === "string" ? payload : JSON.stringify(payload)));

  it("puts every record in exactly one count and writes each identity once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: payloads.length - 1 }), { maxLength: 40 }),
        async (picks) => {
          const { ingestRecords, tables } = setup();
          const result = await ingestRecords(
            picks.map((pick, index) => record(String(index), payloads[pick] ?? "")),
          );
          const { counts } = result;

          expect(counts.records).toBe(picks.length);
          expect(counts.applied + counts.duplicate + counts.ignored + sum(counts.skipped)).toBe(picks.length);
          expect(tables.events).toHaveLength(counts.applied);
          expect(new Set(tables.events.map(({ sk }) => sk)).size).toBe(counts.applied);
          expect(tables.quarantine).toHaveLength(sum(counts.skipped));
          expect(result.batchItemFailures).toStrictEqual([]);
        },
      ),
    );
  });
});

describe("other input formats", () => {
  const track = (fields: Record<string, unknown> = {}) => ({
    type: "track",
    event: "purchase",
    userId: "customer-1042",
    timestamp: "2024-03-14T23:30:00-02:00",
    properties: { product: "chair", price: 129.99 },
    ...fields,
  });

  it("unpacks a Segment batch: each call a record, bad calls quarantined one item each", async () => {
    const tables = fakeTables();
    const ingestRecords = makeIngestRecords({
      ...tables,
      now: () => NOW,
      log: recordingLog(),
      eventRetentionDays: 400,
      quarantineRetentionDays: 14,
      reader: recordReader({ format: "segment" }),
    });
    const result = await ingestRecords([
      record("1", {
        batch: [
          track({ messageId: "m-1" }),
          track({ userId: undefined }),
          track({ timestamp: "yesterday" }),
          { type: "identify", userId: "customer-1042" },
          track({ messageId: "m-1" }),
        ],
      }),
      record("2", track({ messageId: "m-2" })),
    ]);
    expect(result.batchItemFailures).toStrictEqual([]);
    expect(result.counts).toMatchObject({ records: 6, applied: 2, duplicate: 1, ignored: 1 });
    expect(result.counts.skipped).toMatchObject({ no_user: 1, bad_timestamp: 1 });
    expect(tables.events.map(({ sk }) => sk)).toStrictEqual(["segment:m-1", "segment:m-2"]);
    expect(tables.quarantine.map(({ sk }) => sk.split("#").slice(1).join("#"))).toStrictEqual(["1#1", "1#2"]);
    expect(tables.events[0]).toMatchObject({ ts: Date.UTC(2024, 2, 15, 1, 30) });
  });
});
