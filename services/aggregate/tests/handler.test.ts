import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { lambdaContext } from "@pia/aws";
import { emfEntries } from "@pia/aws/testing";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

const ddb = mockClient(DynamoDBDocumentClient);
const context = lambdaContext("pia-aggregate", "req-1");

/** A TTL deletion: aggregate counts only INSERT records, so no table is read or written. */
const expired: DynamoDBStreamEvent = {
  Records: [
    {
      eventName: "REMOVE",
      eventSource: "aws:dynamodb",
      dynamodb: { SequenceNumber: "100", Keys: { pk: { S: "3:app#u1" }, sk: { S: "e1" } } },
    },
  ],
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

describe("aggregate handler", () => {
  it("acknowledges records it does not count and publishes its counts as EMF metrics", async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const { handler } = await import("../src/handlers/aggregate.js");

    const response = await handler(expired, context);

    expect(response).toStrictEqual({ batchItemFailures: [] });
    const emf = emfEntries(output);
    expect(emf).toContainEqual(
      expect.objectContaining({
        service: "pia-aggregate",
        EventsAggregated: 0,
        CountersWritten: 0,
        NotificationsDecided: 0,
      }),
    );
  });
});
