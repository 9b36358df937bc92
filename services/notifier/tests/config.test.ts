import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const BASE = {
  FILE_SINK_PATH: "/tmp/pia/notifications.ndjson",
  DELIVERED_TABLE: "pia-dev-delivered",
  DEAD_LETTER_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/123456789012/pia-dev-notifications-dlq",
};

function problemsOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (caught: unknown) {
    if (caught instanceof ConfigError) return caught;
    throw caught;
  }
  throw new Error("loadConfig accepted a bad environment");
}

describe("loadConfig", () => {
  it("defaults to the file sink and 14 days of delivered ids", () => {
    expect(loadConfig(BASE)).toStrictEqual({
      sink: { name: "file", path: "/tmp/pia/notifications.ndjson" },
      sinks: [{ name: "file", path: "/tmp/pia/notifications.ndjson" }],
      deliveredTable: "pia-dev-delivered",
      deliveredRetentionDays: 14,
      deadLetterQueueUrl: BASE.DEAD_LETTER_QUEUE_URL,
    });
  });

  it("configures every listed sink, the default first", () => {
    expect(
      loadConfig({
        ...BASE,
        SINK: "pinpoint",
        SINKS: "webhook, file, eventbridge",
        PINPOINT_APPLICATION_ID: "app-1",
        WEBHOOK_URL: "https://example.test/hook",
        WEBHOOK_SECRET_ID: "pia/webhook",
        EVENT_BUS_NAME: "marketing",
      }).sinks,
    ).toStrictEqual([
      { name: "pinpoint", applicationId: "app-1" },
      { name: "webhook", url: "https://example.test/hook", secretId: "pia/webhook" },
      { name: "file", path: BASE.FILE_SINK_PATH },
      { name: "eventbridge", eventBusName: "marketing", source: "pia" },
    ]);
  });

  it("reads the customer-profiles sink's key, with pia's object type by default", () => {
    expect(
      loadConfig({ ...BASE, SINK: "customer-profiles", PROFILES_DOMAIN: "shop", PROFILES_KEY: "appUserId" })
        .sink,
    ).toStrictEqual({
      name: "customer-profiles",
      domainName: "shop",
      objectTypeName: "pia-notification",
      keyName: "appUserId",
    });
  });

  it("reads the sink and the retention when set", () => {
    expect(loadConfig({ ...BASE, SINK: " file ", DELIVERED_RETENTION_DAYS: "30" })).toMatchObject({
      sink: { name: "file" },
      deliveredRetentionDays: 30,
    });
  });

  it.each([
    [
      { ...BASE, SINK: "fax" },
      ["SINK"],
      /SINK names "fax": use file, pinpoint, customer-profiles, eventbridge, webhook/,
    ],
    [{ ...BASE, SINKS: "file,telex" }, ["SINKS"], /SINKS names "telex"/],
    [
      { ...BASE, SINK: "eventbridge" },
      ["EVENT_BUS_NAME"],
      /EVENT_BUS_NAME is not set: set it to the event bus name/,
    ],
    [
      { ...BASE, SINKS: "webhook" },
      ["WEBHOOK_SECRET_PARAMETER", "WEBHOOK_URL"],
      /set exactly one of WEBHOOK_SECRET_PARAMETER .* and WEBHOOK_SECRET_ID/,
    ],
    [
      { ...BASE, SINKS: "customer-profiles" },
      ["PROFILES_KEY", "PROFILES_DOMAIN"],
      /PROFILES_KEY is not set: set it to the search key the app's profiles are found by.*PROFILES_DOMAIN is not set/,
    ],
    [
      { ...BASE, SINKS: "customer-profiles", PROFILES_DOMAIN: "d", PROFILES_KEY: "user id" },
      ["PROFILES_KEY"],
      /PROFILES_KEY must be 1-64 letters, digits/,
    ],
    [
      { ...BASE, SINKS: "customer-profiles", PROFILES_DOMAIN: "d", PROFILES_KEY: "piaNotificationId" },
      ["PROFILES_KEY"],
      /not piaNotificationId/,
    ],
    [
      {
        ...BASE,
        SINKS: "customer-profiles",
        PROFILES_DOMAIN: "d",
        PROFILES_KEY: "k",
        PROFILES_OBJECT_TYPE: "9lives",
      },
      ["PROFILES_OBJECT_TYPE"],
      /PROFILES_OBJECT_TYPE must start with a letter/,
    ],
    [
      { ...BASE, FILE_SINK_PATH: undefined },
      ["FILE_SINK_PATH"],
      /FILE_SINK_PATH is not set: set it to the NDJSON file/,
    ],
    [{ ...BASE, DELIVERED_TABLE: " " }, ["DELIVERED_TABLE"], /DELIVERED_TABLE is not set/],
    [{ ...BASE, DEAD_LETTER_QUEUE_URL: "" }, ["DEAD_LETTER_QUEUE_URL"], /dead-letter queue/],
    [
      { ...BASE, DELIVERED_RETENTION_DAYS: "0" },
      ["DELIVERED_RETENTION_DAYS"],
      /"0": set it to a whole number/,
    ],
    [{ ...BASE, DELIVERED_RETENTION_DAYS: "two" }, ["DELIVERED_RETENTION_DAYS"], /leave it unset for 14/],
    [
      {},
      ["FILE_SINK_PATH", "DELIVERED_TABLE", "DEAD_LETTER_QUEUE_URL"],
      /^notifier configuration: FILE_SINK_PATH .*; DELIVERED_TABLE .*; DEAD_LETTER_QUEUE_URL /,
    ],
  ])("refuses %j naming %j", (env, variables, message) => {
    const error = problemsOf(env);
    expect(error.problems.map(({ variable }) => variable)).toStrictEqual(variables);
    expect(error.message).toMatch(message);
  });
});
