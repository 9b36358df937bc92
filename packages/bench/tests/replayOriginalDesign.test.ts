import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { parseRulesCsv } from "@pia/core";
import { type DynamoDbLocal, startDynamoDbLocal } from "@pia/local-stack";
import { generateSampleRulesCsv } from "@pia/sample";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replayOriginalDesign } from "../src/replayOriginalDesign.js";

const HEADER = generateSampleRulesCsv({ rules: 0 });
const rules = parseRulesCsv(
  `${HEADER}aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,views,na
aggregator,purchase,na,999,na,999,greater,100,no,9999-99-99,9999-99-99,spend,price
date,purchase,na,999,greater,1,na,999,no,2021-01-01,2021-01-31,january,na
`,
).rules;

function record(
  type: string,
  user: string | undefined,
  at: string,
  metrics?: Record<string, number>,
): string {
  return JSON.stringify({
    event_type: type,
    event_timestamp: Date.parse(at),
    application: { app_id: "app" },
    attributes: { page: "home" },
    ...(metrics === undefined ? {} : { metrics }),
    endpoint: { Id: `endpoint-${user}`, ...(user === undefined ? {} : { User: { UserId: user } }) },
  });
}

// Hours 10 and 13 of one day: the hourly runs at the ends of hours 10, 11 and 12 come before the
// last event, and one more after it.
const lines = [
  record("pageview", "u1", "2021-01-05T10:00:00Z"),
  record("pageview", "u1", "2021-01-05T10:10:00Z"),
  record("purchase", "u2", "2021-01-05T10:20:00Z", { price: 50.25 }),
  record("search", "u1", "2021-01-05T10:30:00Z"),
  record("_session.start", "u1", "2021-01-05T10:40:00Z"),
  record("pageview", undefined, "2021-01-05T10:50:00Z"),
  "{not json",
  "",
  record("pageview", "u2", "2021-01-05T13:05:00Z"),
];

let dynamoDb: DynamoDbLocal;
beforeAll(async () => {
  dynamoDb = await startDynamoDbLocal();
});
afterAll(() => dynamoDb?.stop());

describe("replayOriginalDesign", () => {
  it("issues exactly the documented calls: per event, per lifetime match and per hour", async () => {
    const run = await replayOriginalDesign({
      endpoint: dynamoDb.endpoint,
      rules,
      lines,
      tablePrefix: "exact",
      scanStride: 1,
    });
    expect({ records: run.records, processed: run.processed, aggregated: run.aggregated }).toEqual({
      records: 8,
      processed: 5,
      aggregated: 4,
    });
    expect(run.ruleLookups).toBe(10);
    // The runs at the ends of hours 11 and 12 see the table of hour 10's run: charged, not scanned again.
    expect({ hourlyRuns: run.hourlyRuns, scansRun: run.scansRun }).toEqual({ hourlyRuns: 4, scansRun: 2 });
    expect(run.cost.byCommand).toEqual({
      PutItemCommand: 5,
      GetItemCommand: 12,
      UpdateItemCommand: 12,
      ScanCommand: 4,
    });
    expect(run.cost.requests).toBe(33);
    // Small items: 1 WCU per write, 0.5 RCU per eventually consistent read or scan page.
    expect(run.cost.writeUnits).toBe(17);
    expect(run.cost.readUnits).toBe(8);
    expect(run.scanCost).toEqual({ requests: 4, readUnits: 2 });

    const client = new DynamoDBClient({
      region: "us-east-1",
      endpoint: dynamoDb.endpoint,
      credentials: { accessKeyId: "local", secretAccessKey: "local" },
    });
    try {
      const item = async (key: string) =>
        (
          await client.send(
            new GetItemCommand({ TableName: run.tables.aggregate, Key: { useridtaskname: { S: key } } }),
          )
        ).Item;
      expect((await item("u1views"))?.eventcount).toEqual({ N: "2" });
      expect((await item("u2spend"))?.metricsum).toEqual({ N: "50.25" });
      expect(await item("u2january")).toBeUndefined();
    } finally {
      client.destroy();
    }
  });

  it("charges the hourly runs between real scans their cost, and scans nothing without window rules", async () => {
    const strided = await replayOriginalDesign({
      endpoint: dynamoDb.endpoint,
      rules,
      lines,
      tablePrefix: "strided",
    });
    expect({ hourlyRuns: strided.hourlyRuns, scansRun: strided.scansRun }).toEqual({
      hourlyRuns: 4,
      scansRun: 1,
    });
    expect(strided.cost.byCommand.ScanCommand).toBe(4);
    expect(strided.scanCost).toEqual({ requests: 4, readUnits: 2 });

    const lifetimeOnly = rules.filter((rule) => rule.window === undefined);
    const unscheduled = await replayOriginalDesign({
      endpoint: dynamoDb.endpoint,
      rules: lifetimeOnly,
      lines,
      tablePrefix: "unscheduled",
    });
    expect(unscheduled.hourlyRuns).toBe(0);
    expect(unscheduled.cost.byCommand.ScanCommand).toBeUndefined();
    expect(unscheduled.cost.requests).toBe(29);
  });
});
