import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { DEFAULTS, lambdaContext } from "@pia/aws";
import { emfEntries } from "@pia/aws/testing";
import type { ScheduledEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const ddb = mockClient(DynamoDBDocumentClient);

const context = lambdaContext("pia-timeseries", "req-1");

const event: ScheduledEvent = {
  version: "0",
  id: "run-1",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "123456789012",
  time: "2021-02-01T00:00:00Z",
  region: "us-east-1",
  resources: [],
  detail: {},
};

let output: string[];

beforeEach(() => {
  vi.resetModules();
  ddb.reset();
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("COUNTERS_TABLE", "pia-test-counters");
  vi.stubEnv("RULES_TABLE", "pia-test-rules");
  vi.stubEnv("EVENTS_TABLE", "pia-test-events");
  vi.stubEnv(
    "NOTIFICATIONS_QUEUE_URL",
    "https://sqs.us-east-1.amazonaws.com/123456789012/pia-test-notifications",
  );
  output = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    output.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("schedule handler", () => {
  it("reads the rules and the counter-key registry by query, and publishes its counts as EMF metrics", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { handler } = await import("../src/handlers/schedule.js");

    await handler(event, context);

    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.TableName)).toContain(
      "pia-test-rules",
    );
    const emf = emfEntries(output);
    expect(emf).toContainEqual(
      expect.objectContaining({
        service: "pia-timeseries",
        RulesDecided: 0,
        NotificationsDecided: 0,
        CountersDeleted: 0,
        UsersBackfilled: 0,
      }),
    );
  });

  it("runs the rolling job alone on its own schedule's event: one query per shard of the due index", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { handler } = await import("../src/handlers/schedule.js");

    await handler({ job: "rolling", time: "2021-02-01T00:05:00Z" }, context);

    const indexes = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.IndexName);
    expect(indexes.filter((name) => name === "byDue")).toHaveLength(DEFAULTS.counters.dueShards);
    expect(indexes).not.toContain("byRule");
    // The backfill jobs are read on the rolling runs too (none here: nothing else is queried).
    expect(
      ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.ExpressionAttributeValues),
    ).toContainEqual({
      ":pk": "backfill",
    });
    for (const call of ddb.commandCalls(QueryCommand).filter((c) => c.args[0].input.IndexName === "byDue")) {
      expect(call.args[0].input.ExpressionAttributeValues).toMatchObject({
        ":now": Date.parse("2021-02-01T00:05:00Z"),
      });
    }
  });
});

describe("timeseries config", () => {
  it("sets a backfill's live delay past aggregate's rule cache, and refuses one that is not", async () => {
    const { loadConfig } = await import("../src/config.js");
    const base = {
      COUNTERS_TABLE: "c",
      RULES_TABLE: "r",
      EVENTS_TABLE: "e",
      NOTIFICATIONS_QUEUE_URL: "https://sqs.example/q",
    };
    expect(loadConfig(base)).toMatchObject({
      eventsTable: "e",
      backfillLiveDelaySeconds:
        DEFAULTS.aggregate.rulesCacheSeconds + DEFAULTS.timeseries.backfillLiveMarginSeconds,
      backfillSettleSeconds: DEFAULTS.timeseries.backfillSettleSeconds,
    });
    expect(loadConfig({ ...base, RULES_CACHE_SECONDS: "300" }).backfillLiveDelaySeconds).toBe(
      300 + DEFAULTS.timeseries.backfillLiveMarginSeconds,
    );
    expect(() =>
      loadConfig({ ...base, RULES_CACHE_SECONDS: "300", BACKFILL_LIVE_DELAY_SECONDS: "300" }),
    ).toThrow(/BACKFILL_LIVE_DELAY_SECONDS.*more than RULES_CACHE_SECONDS \(300\)/);
    expect(() => loadConfig({ ...base, EVENTS_TABLE: "" })).toThrow(/EVENTS_TABLE is not set/);
  });
});
