import { describe, expect, it, vi } from "vitest";
import { makeIngestRecords } from "../src/ingestRecords.js";
import { fakeTables, NOW, pinpointEvent, record, recordingLog } from "./fixtures.js";

// A parser bug must not block the shard: make the record reader throw on one marked record.
vi.mock("@pia/core", async (importOriginal) => {
  const core = await importOriginal<typeof import("@pia/core")>();
  return {
    ...core,
    recordReader: (...args: Parameters<typeof core.recordReader>) => {
      const reader = core.recordReader(...args);
      return {
        format: reader.format,
        read: (line: string) => {
          if (line.includes("explode")) throw new RangeError("parser bug");
          return reader.read(line);
        },
      };
    },
  };
});

describe("a record the parser fails on", () => {
  it("is quarantined as parse_error and the batch proceeds", async () => {
    const tables = fakeTables();
    const ingestRecords = makeIngestRecords({
      ...tables,
      now: () => NOW,
      log: recordingLog(),
      eventRetentionDays: 400,
      quarantineRetentionDays: 14,
    });
    const result = await ingestRecords([
      record("1", pinpointEvent({ event_id: "explode" })),
      record("2", pinpointEvent({ event_id: "fine" })),
    ]);

    expect(result.batchItemFailures).toStrictEqual([]);
    expect(result.counts.skipped.parse_error).toBe(1);
    expect(tables.events.map(({ sk }) => sk)).toStrictEqual(["id:fine"]);
    expect(tables.quarantine).toMatchObject([
      {
        pk: "parse_error#2024-03-15",
        reason: "parse_error",
        detail: "the record parser failed (RangeError: parser bug)",
        raw: JSON.stringify(pinpointEvent({ event_id: "explode" })),
      },
    ]);
  });
});
