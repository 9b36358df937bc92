import {
  EventBridgeClient,
  EventBridgeServiceException,
  InternalException,
  PutEventsCommand,
  type PutEventsRequestEntry,
  ThrottlingException,
} from "@aws-sdk/client-eventbridge";
import type { NotificationMessage } from "@pia/aws";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { buildEventBridgeSink, type EventBridgeSinkConfig } from "../src/sinks/eventBridgeSink.js";
import { EVENT, EXIT, message } from "./fixtures.js";

const eventBridge = mockClient(EventBridgeClient);

beforeEach(() => {
  eventBridge.reset();
});

function sink(options: Partial<EventBridgeSinkConfig> = {}) {
  const sleeps: number[] = [];
  const built = buildEventBridgeSink(new EventBridgeClient({ region: "eu-west-1" }), {
    eventBusName: "pia-bus",
    maxAttempts: 3,
    baseDelayMs: 100,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...options,
  });
  return { sink: built, sleeps };
}

function sentEntries(): PutEventsRequestEntry[][] {
  return eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
}

function sentIds(): string[][] {
  return sentEntries().map((entries) => entries.map((entry) => JSON.parse(entry.Detail ?? "{}").id));
}

function allOk(count: number) {
  return { FailedEntryCount: 0, Entries: Array.from({ length: count }, (_, i) => ({ EventId: `ev-${i}` })) };
}

function serviceError(name: string, status: number, fault: "client" | "server") {
  return new EventBridgeServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: "x",
  });
}

describe("buildEventBridgeSink", () => {
  it("puts one entry per notification with the documented source, detail-type, time and detail", async () => {
    eventBridge.on(PutEventsCommand).resolves(allOk(2));
    const { sink: built } = sink();

    const results = await built.deliver([message("fire-a", "user-1"), EVENT]);

    expect(built.name).toBe("eventbridge");
    expect(results).toStrictEqual([
      { id: "fire-a", status: "delivered" },
      { id: "fire-e", status: "delivered" },
    ]);
    expect(sentEntries()).toStrictEqual([
      [
        {
          EventBusName: "pia-bus",
          Source: "pia",
          DetailType: "pia.notification",
          Detail:
            '{"appId":"app-1","userId":"user-1","ruleId":"big-spender","type":"attribute","name":"big_spender","value":"Ready","at":"2021-01-31T23:59:59.999Z","endpointId":"ep-user-1","id":"fire-a"}',
          Time: new Date("2021-01-31T23:59:59.999Z"),
        },
        {
          EventBusName: "pia-bus",
          Source: "pia",
          DetailType: "pia.notification",
          Detail:
            '{"appId":"app-1","userId":"user-2","ruleId":"viewer","type":"event","name":"trk_viewer","at":"2024-03-15T10:30:00.123Z","endpointId":"ep-2","id":"fire-e"}',
          Time: new Date("2024-03-15T10:30:00.123Z"),
        },
      ],
    ]);
  });

  it('passes an exit through: value "" and seq with the rest of the detail', async () => {
    eventBridge.on(PutEventsCommand).resolves(allOk(1));

    expect(await sink().sink.deliver([EXIT])).toStrictEqual([{ id: "fire-x", status: "delivered" }]);
    expect(sentEntries()[0]?.[0]?.Detail).toBe(
      '{"appId":"app-1","userId":"user-3","ruleId":"active","type":"attribute","name":"active","value":"","at":"2024-03-15T10:30:00.123Z","seq":2,"endpointId":"ep-3","id":"fire-x"}',
    );
  });

  it("uses the configured source", async () => {
    eventBridge.on(PutEventsCommand).resolves(allOk(1));

    await sink({ source: "acme.engagement" }).sink.deliver([EVENT]);

    expect(sentEntries()[0]?.[0]?.Source).toBe("acme.engagement");
  });

  it("sends 25 notifications in 3 requests of at most 10 entries, each once", async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake((input: { Entries: unknown[] }) => allOk(input.Entries.length));
    const batch = Array.from({ length: 25 }, (_, i) => message(`fire-${i}`));

    const results = await sink().sink.deliver(batch);

    expect(sentEntries().map((entries) => entries.length)).toStrictEqual([10, 10, 5]);
    expect(sentIds().flat().sort()).toStrictEqual(batch.map(({ id }) => id).sort());
    expect(results).toStrictEqual(batch.map(({ id }) => ({ id, status: "delivered" })));
  });

  it("keeps each request under 256 KB and refuses an entry over 256 KB without sending it", async () => {
    eventBridge
      .on(PutEventsCommand)
      .callsFake((input: { Entries: unknown[] }) => allOk(input.Entries.length));
    const big = (id: string, kb: number): NotificationMessage => ({
      id,
      notification: { ...message(id).notification, value: "v".repeat(kb * 1024) },
    });

    const results = await sink().sink.deliver([
      big("a", 100),
      big("b", 100),
      big("c", 100),
      big("huge", 257),
    ]);

    expect(sentIds()).toStrictEqual([["a", "b"], ["c"]]);
    expect(results.slice(0, 3).map(({ status }) => status)).toStrictEqual([
      "delivered",
      "delivered",
      "delivered",
    ]);
    expect(results[3]).toMatchObject({ id: "huge", status: "permanent" });
    expect(results[3]).toHaveProperty("error", expect.stringMatching(/over EventBridge's 262144/));
  });

  it("maps per-entry errors: transient codes are sent again alone, others are permanent", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 4,
        Entries: [
          { EventId: "ev-0" },
          { ErrorCode: "ThrottlingException", ErrorMessage: "slow down user-b" },
          { ErrorCode: "MalformedDetail", ErrorMessage: "bad detail user-c" },
          { ErrorCode: "AccessDeniedException", ErrorMessage: "no" },
          { ErrorCode: "InternalFailure", ErrorMessage: "oops" },
          { ErrorCode: "InternalException" },
        ],
      })
      .resolvesOnce(allOk(3));
    const batch = ["a", "b", "c", "d", "e", "f"].map((id) => message(id));
    const { sink: built, sleeps } = sink();

    const results = await built.deliver(batch);

    expect(sentIds()).toStrictEqual([
      ["a", "b", "c", "d", "e", "f"],
      ["b", "e", "f"],
    ]);
    expect(sleeps).toStrictEqual([50]); // full jitter: 0.5 * the first cap (100 ms)
    expect(results).toStrictEqual([
      { id: "a", status: "delivered" },
      { id: "b", status: "delivered" },
      { id: "c", status: "permanent", error: "EventBridge refused the entry: MalformedDetail" },
      { id: "d", status: "permanent", error: "EventBridge refused the entry: AccessDeniedException" },
      { id: "e", status: "delivered" },
      { id: "f", status: "delivered" },
    ]);
  });

  it("answers retry when an entry stays throttled after the last attempt, with growing backoff", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: "ThrottlingException" }] });
    const { sink: built, sleeps } = sink({ maxAttempts: 3 });

    const results = await built.deliver([message("a", "user-secret")]);

    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(sleeps).toStrictEqual([50, 100]);
    expect(results).toStrictEqual([
      {
        id: "a",
        status: "retry",
        error: "EventBridge refused the entry for now: ThrottlingException; retries exhausted",
      },
    ]);
  });

  it("backs off and sends a throttled request again, once, then delivers", async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(new ThrottlingException({ message: "Rate exceeded", $metadata: { httpStatusCode: 400 } }))
      .resolves(allOk(2));
    const { sink: built, sleeps } = sink();

    const results = await built.deliver([message("a"), message("b")]);

    expect(sentIds()).toStrictEqual([
      ["a", "b"],
      ["a", "b"],
    ]);
    expect(sleeps).toHaveLength(1);
    expect(results.map(({ status }) => status)).toStrictEqual(["delivered", "delivered"]);
  });

  it("answers retry when requests keep failing with a 5xx or an internal error", async () => {
    eventBridge
      .on(PutEventsCommand)
      .rejectsOnce(serviceError("ServiceUnavailableException", 503, "server"))
      .rejects(new InternalException({ message: "x", $metadata: { httpStatusCode: 500 } }));

    const results = await sink().sink.deliver([message("a")]);

    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(results).toStrictEqual([
      {
        id: "a",
        status: "retry",
        error: "EventBridge PutEvents failed: InternalException (HTTP 500); retries exhausted",
      },
    ]);
  });

  it("answers permanent, without retrying, when the request is refused (no user id in the error)", async () => {
    eventBridge.on(PutEventsCommand).rejects(serviceError("AccessDeniedException", 400, "client"));

    const results = await sink().sink.deliver([message("a", "user-secret")]);

    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    expect(results).toStrictEqual([
      {
        id: "a",
        status: "permanent",
        error: "EventBridge PutEvents failed: AccessDeniedException (HTTP 400)",
      },
    ]);
    expect(JSON.stringify(results)).not.toContain("user-secret");
  });

  it("sends an entry again when the answer has no result for it", async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: [{ EventId: "ev-0" }] })
      .resolves(allOk(1));

    const results = await sink().sink.deliver([message("a"), message("b")]);

    expect(sentIds()).toStrictEqual([["a", "b"], ["b"]]);
    expect(results.map(({ status }) => status)).toStrictEqual(["delivered", "delivered"]);
  });
});
