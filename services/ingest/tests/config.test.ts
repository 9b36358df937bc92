import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const TABLES = { EVENTS_TABLE: "pia-dev-events", QUARANTINE_TABLE: "pia-dev-quarantine" };

describe("loadConfig", () => {
  it("reads the tables and defaults the retentions to 400 and 14 days", () => {
    expect(loadConfig(TABLES)).toStrictEqual({
      eventsTable: "pia-dev-events",
      quarantineTable: "pia-dev-quarantine",
      eventRetentionDays: 400,
      quarantineRetentionDays: 14,
      previewIndex: false,
      inputFormat: "auto",
    });
  });

  it.each([
    ["true", true],
    [" TRUE ", true],
    ["false", false],
    ["", false],
  ])("reads PREVIEW_INDEX=%j as %j", (value, previewIndex) => {
    expect(loadConfig({ ...TABLES, PREVIEW_INDEX: value }).previewIndex).toBe(previewIndex);
  });

  it("reads the input format and the mapping's JSON text", () => {
    const config = loadConfig({
      ...TABLES,
      INPUT_FORMAT: "json",
      INPUT_MAPPING: '{"userId":"user.id","eventType":"name","timestamp":"at","timestampUnit":"iso"}',
    });
    expect(config).toMatchObject({ inputFormat: "json", inputMapping: { userId: { keys: ["user", "id"] } } });
    expect(loadConfig({ ...TABLES, INPUT_FORMAT: "segment" })).toMatchObject({ inputFormat: "segment" });
    expect(loadConfig({ ...TABLES, INPUT_FORMAT: "segment" }).inputMapping).toBeUndefined();
  });

  it("reads the retentions when set", () => {
    expect(
      loadConfig({ ...TABLES, EVENT_RETENTION_DAYS: "730", QUARANTINE_RETENTION_DAYS: " 3 " }),
    ).toMatchObject({
      eventRetentionDays: 730,
      quarantineRetentionDays: 3,
    });
  });

  it.each([
    [
      { QUARANTINE_TABLE: "q" },
      ["EVENTS_TABLE"],
      /EVENTS_TABLE is not set: set it to the name of the events table/,
    ],
    [{ EVENTS_TABLE: "e", QUARANTINE_TABLE: " " }, ["QUARANTINE_TABLE"], /QUARANTINE_TABLE is not set/],
    [{}, ["EVENTS_TABLE", "QUARANTINE_TABLE"], /EVENTS_TABLE .*; QUARANTINE_TABLE /],
    [
      { ...TABLES, EVENT_RETENTION_DAYS: "0" },
      ["EVENT_RETENTION_DAYS"],
      /"0": set it to a whole number of days/,
    ],
    [{ ...TABLES, EVENT_RETENTION_DAYS: "1.5" }, ["EVENT_RETENTION_DAYS"], /EVENT_RETENTION_DAYS is "1.5"/],
    [{ ...TABLES, QUARANTINE_RETENTION_DAYS: "two" }, ["QUARANTINE_RETENTION_DAYS"], /leave it unset for 14/],
    [{ ...TABLES, QUARANTINE_RETENTION_DAYS: "36501" }, ["QUARANTINE_RETENTION_DAYS"], /from 1 to 36500/],
    [
      { ...TABLES, PREVIEW_INDEX: "yes" },
      ["PREVIEW_INDEX"],
      /PREVIEW_INDEX is "yes": set it to true or false/,
    ],
    [{ ...TABLES, INPUT_FORMAT: "csv" }, ["INPUT_FORMAT"], /one of auto, pinpoint, segment, json/],
    [{ ...TABLES, INPUT_FORMAT: "json" }, ["INPUT_MAPPING"], /json format needs the mapping/],
    [{ ...TABLES, INPUT_MAPPING: "userId: u" }, ["INPUT_MAPPING"], /INPUT_FORMAT is auto/],
    [
      { ...TABLES, INPUT_FORMAT: "json", INPUT_MAPPING: '{"userId":"u","eventType":"","timestap":"t"}' },
      ["INPUT_MAPPING"],
      /timestap is not a mapping key \(did you mean timestamp\?\).*eventType is empty.*timestamp is required/,
    ],
  ])("refuses %j naming %j", (env, variables, message) => {
    const error = (() => {
      try {
        loadConfig(env);
      } catch (caught: unknown) {
        return caught;
      }
      throw new Error("loadConfig accepted a bad environment");
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map(({ variable }) => variable)).toStrictEqual(variables);
    expect((error as ConfigError).message).toMatch(message);
  });
});
