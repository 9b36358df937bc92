import { readFile } from "node:fs/promises";
import {
  BadRequestException,
  ForbiddenException,
  GetUserEndpointsCommand,
  InternalServerErrorException,
  NotFoundException,
  PinpointClient,
  PutEventsCommand,
  type PutEventsCommandInput,
  type PutEventsResponse,
  TooManyRequestsException,
  UpdateEndpointCommand,
} from "@aws-sdk/client-pinpoint";
import type { NotificationMessage } from "@pia/aws";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  buildPinpointSink,
  DEFAULT_PINPOINT_REQUESTS_PER_SECOND,
  PINPOINT_QUOTAS,
  type PinpointSinkConfig,
} from "../src/sinks/pinpointSink.js";
import { message } from "./fixtures.js";

const client = new PinpointClient({
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const pinpoint = mockClient(client);

let sleeps: number[];
beforeEach(() => {
  pinpoint.reset();
  sleeps = [];
});

/** A sink with a frozen clock and recorded sleeps (nothing waits for real). */
function sink(config: PinpointSinkConfig = {}) {
  return buildPinpointSink(client, {
    now: () => 0,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    maxRequestsPerSecond: 1_000_000,
    ...config,
  });
}

function event(id: string, userId = `user-${id}`, endpointId: string | null = `ep-${userId}`) {
  return {
    id,
    notification: {
      appId: "app-1",
      userId,
      ruleId: `rule-${id}`,
      type: "event" as const,
      name: "trk_viewer",
      at: "2024-03-15T10:30:00.123Z",
      ...(endpointId === null ? {} : { endpointId }),
    },
  } satisfies NotificationMessage;
}

function attribute(
  id: string,
  name = "big_spender",
  value = "Ready",
  endpointId?: string,
): NotificationMessage {
  const { endpointId: _, ...rest } = message(id).notification;
  return {
    id,
    notification: { ...rest, name, value, ...(endpointId === undefined ? {} : { endpointId }) },
  };
}

/** Answers `status` (default 202) for every event and endpoint of a PutEvents request. */
function answerAll(input: PutEventsCommandInput, status: (eventId: string) => number = () => 202) {
  const Results: NonNullable<NonNullable<PutEventsResponse["EventsResponse"]>["Results"]> = {};
  for (const [endpointId, item] of Object.entries(input.EventsRequest?.BatchItem ?? {})) {
    Results[endpointId] = {
      EndpointItemResponse: { StatusCode: 202, Message: "Accepted" },
      EventsItemResponse: Object.fromEntries(
        Object.keys(item.Events ?? {}).map((eventId) => [eventId, { StatusCode: status(eventId) }]),
      ),
    };
  }
  return { EventsResponse: { Results } } satisfies PutEventsResponse;
}

function throttled() {
  return new TooManyRequestsException({ $metadata: { httpStatusCode: 429 }, message: "Too many requests" });
}

function keysDeep(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysDeep);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysDeep(inner)]);
}

function allInputs() {
  return pinpoint.calls().map((call) => call.args[0].input);
}

describe("buildPinpointSink: attributes", () => {
  it("sends UpdateEndpoint with only User{UserId, UserAttributes} on the notification's endpoint", async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: { Message: "Accepted" } });
    const s = sink();

    const results = await s.deliver([message("fire-a", "user-1")]);

    expect(s.name).toBe("pinpoint");
    expect(results).toStrictEqual([{ id: "fire-a", status: "delivered" }]);
    expect(pinpoint.commandCalls(UpdateEndpointCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        ApplicationId: "app-1",
        EndpointId: "ep-user-1",
        EndpointRequest: { User: { UserId: "user-1", UserAttributes: { big_spender: ["Ready"] } } },
      },
    ]);
    expect(pinpoint.commandCalls(GetUserEndpointsCommand)).toHaveLength(0);
    const keys = keysDeep(allInputs());
    for (const forbidden of ["ChannelType", "OptOut", "Address", "Attributes", "EndpointStatus"]) {
      expect(keys).not.toContain(forbidden);
    }
  });

  it('removes the user attribute on an exit (value ""): UserAttributes {name: []}, not [""]', async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: { Message: "Accepted" } });

    const results = await sink().deliver([attribute("fire-x", "active", "", "ep-1")]);

    expect(results).toStrictEqual([{ id: "fire-x", status: "delivered" }]);
    expect(pinpoint.commandCalls(UpdateEndpointCommand).map((call) => call.args[0].input)).toStrictEqual([
      {
        ApplicationId: "app-1",
        EndpointId: "ep-1",
        EndpointRequest: { User: { UserId: "user-fire-x", UserAttributes: { active: [] } } },
      },
    ]);
  });

  it("uses the configured application id over the notification's appId", async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: {} });

    await sink({ applicationId: "configured-app" }).deliver([message("fire-a")]);

    expect(pinpoint.commandCalls(UpdateEndpointCommand)[0]?.args[0].input.ApplicationId).toBe(
      "configured-app",
    );
  });

  it("finds an endpoint with GetUserEndpoints when the notification has none, once per user", async () => {
    pinpoint
      .on(GetUserEndpointsCommand)
      .resolves({
        EndpointsResponse: {
          Item: [
            { Id: "ep-inactive", EndpointStatus: "INACTIVE", ChannelType: "EMAIL", OptOut: "ALL" },
            { Id: "ep-active", EndpointStatus: "ACTIVE", ChannelType: "SMS", OptOut: "NONE" },
          ],
        },
      })
      .on(UpdateEndpointCommand)
      .resolves({ MessageBody: {} });
    const a = attribute("fire-a");
    const other = attribute("fire-b", "other_rule");
    const b = { ...other, notification: { ...other.notification, userId: "user-fire-a" } };

    const results = await sink().deliver([a, b]);

    expect(results).toStrictEqual([
      { id: "fire-a", status: "delivered" },
      { id: "fire-b", status: "delivered" },
    ]);
    expect(pinpoint.commandCalls(GetUserEndpointsCommand).map((call) => call.args[0].input)).toStrictEqual([
      { ApplicationId: "app-1", UserId: "user-fire-a" },
    ]);
    const updates = pinpoint.commandCalls(UpdateEndpointCommand).map((call) => call.args[0].input);
    expect(updates.map((input) => input.EndpointId)).toStrictEqual(["ep-active", "ep-active"]);
    expect(updates.map((input) => input.EndpointRequest)).toStrictEqual([
      { User: { UserId: "user-fire-a", UserAttributes: { big_spender: ["Ready"] } } },
      { User: { UserId: "user-fire-a", UserAttributes: { other_rule: ["Ready"] } } },
    ]);
    // The endpoint's channel and opt-out are read, never written back.
    expect(keysDeep(updates)).not.toContain("OptOut");
    expect(keysDeep(updates)).not.toContain("ChannelType");
  });

  it.each([
    [
      "NotFoundException",
      () =>
        Promise.reject(
          new NotFoundException({ $metadata: { httpStatusCode: 404 }, message: "Resource not found user-x" }),
        ),
    ],
    ["an empty list", () => Promise.resolve({ EndpointsResponse: { Item: [] } })],
  ])("answers permanent for a user without endpoints (%s), without the user id", async (_, answer) => {
    pinpoint.on(GetUserEndpointsCommand).callsFake(answer);
    const results = await sink().deliver([attribute("fire-x"), event("fire-y", "user-x", null)]);

    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result.status).toBe("permanent");
      expect(result.status === "permanent" && result.error).toMatch(/no endpoint/);
      expect(JSON.stringify(result)).not.toMatch(/user-/);
    }
    expect(pinpoint.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
    expect(pinpoint.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it("refuses attribute names over 50 and values over 100 characters without calling Pinpoint", async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: {} });
    const results = await sink().deliver([
      attribute("long-name", "n".repeat(51), "Ready", "ep-1"),
      attribute("long-value", "big_spender", "v".repeat(101), "ep-1"),
      attribute("at-limits", "n".repeat(50), "v".repeat(100), "ep-1"),
    ]);

    expect(results).toStrictEqual([
      {
        id: "long-name",
        status: "permanent",
        error: "the attribute name is 51 characters, over Pinpoint's 50",
      },
      {
        id: "long-value",
        status: "permanent",
        error: "the attribute value is 101 characters, over Pinpoint's 100",
      },
      { id: "at-limits", status: "delivered" },
    ]);
    expect(pinpoint.commandCalls(UpdateEndpointCommand)).toHaveLength(1);
  });

  it.each([
    [
      "BadRequestException",
      new BadRequestException({ $metadata: { httpStatusCode: 400 }, message: "bad user-1" }),
    ],
    ["ForbiddenException", new ForbiddenException({ $metadata: { httpStatusCode: 403 }, message: "no" })],
    ["NotFoundException", new NotFoundException({ $metadata: { httpStatusCode: 404 }, message: "no app" })],
  ])("answers permanent on %s without retrying", async (name, error) => {
    pinpoint.on(UpdateEndpointCommand).rejects(error);

    const results = await sink().deliver([message("fire-a", "user-1")]);

    expect(results).toStrictEqual([
      { id: "fire-a", status: "permanent", error: expect.stringContaining(name) },
    ]);
    expect(JSON.stringify(results)).not.toContain("user-1");
    expect(pinpoint.commandCalls(UpdateEndpointCommand)).toHaveLength(1);
    expect(sleeps).toStrictEqual([]);
  });

  it("retries a storm of 429s with full-jitter backoff and delivers with one successful send", async () => {
    pinpoint
      .on(UpdateEndpointCommand)
      .rejectsOnce(throttled())
      .rejectsOnce(new InternalServerErrorException({ $metadata: { httpStatusCode: 500 }, message: "x" }))
      .rejectsOnce(throttled())
      .resolves({ MessageBody: {} });

    const results = await sink({ maxRetries: 3, baseDelayMs: 100, maxDelayMs: 300 }).deliver([message("a")]);

    expect(results).toStrictEqual([{ id: "a", status: "delivered" }]);
    expect(pinpoint.commandCalls(UpdateEndpointCommand)).toHaveLength(4);
    // random() = 0.5 of min(cap, base * 2^attempt): 100, 200, then capped at 300.
    expect(sleeps).toStrictEqual([50, 100, 150]);
  });

  it("answers retry (without throwing) once the retries are spent", async () => {
    pinpoint.on(UpdateEndpointCommand).rejects(throttled());

    const results = await sink({ maxRetries: 2 }).deliver([message("a")]);

    expect(results).toStrictEqual([
      {
        id: "a",
        status: "retry",
        error: "Pinpoint UpdateEndpoint failed: TooManyRequestsException (HTTP 429)",
      },
    ]);
    expect(pinpoint.commandCalls(UpdateEndpointCommand)).toHaveLength(3);
  });

  it("treats an error without an HTTP answer (network) as retry", async () => {
    pinpoint.on(UpdateEndpointCommand).rejects(Object.assign(new Error("socket hang up"), { name: "Error" }));

    const results = await sink({ maxRetries: 0 }).deliver([message("a")]);

    expect(results).toStrictEqual([
      { id: "a", status: "retry", error: "Pinpoint UpdateEndpoint failed: Error" },
    ]);
  });
});

describe("buildPinpointSink: events", () => {
  it("sends PutEvents with an empty Endpoint and one event per notification, keyed by id", async () => {
    pinpoint.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => answerAll(input));

    const results = await sink().deliver([
      event("e1", "user-1"),
      event("e2", "user-1"),
      event("e3", "user-2"),
    ]);

    expect(results).toStrictEqual([
      { id: "e1", status: "delivered" },
      { id: "e2", status: "delivered" },
      { id: "e3", status: "delivered" },
    ]);
    const inputs = pinpoint.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
    const at = "2024-03-15T10:30:00.123Z";
    expect(inputs).toStrictEqual([
      {
        ApplicationId: "app-1",
        EventsRequest: {
          BatchItem: {
            "ep-user-1": {
              Endpoint: {},
              Events: {
                e1: { EventType: "trk_viewer", Timestamp: at, Attributes: { ruleId: "rule-e1" } },
                e2: { EventType: "trk_viewer", Timestamp: at, Attributes: { ruleId: "rule-e2" } },
              },
            },
            "ep-user-2": {
              Endpoint: {},
              Events: { e3: { EventType: "trk_viewer", Timestamp: at, Attributes: { ruleId: "rule-e3" } } },
            },
          },
        },
      },
    ]);
    const keys = keysDeep(inputs);
    expect(keys).not.toContain("ChannelType");
    expect(keys).not.toContain("OptOut");
  });

  it("finds the endpoint with GetUserEndpoints for an event without endpointId", async () => {
    pinpoint
      .on(GetUserEndpointsCommand)
      .resolves({ EndpointsResponse: { Item: [{ Id: "found-ep", ChannelType: "APNS", OptOut: "ALL" }] } })
      .on(PutEventsCommand)
      .callsFake((input: PutEventsCommandInput) => answerAll(input));

    const results = await sink().deliver([event("e1", "user-1", null)]);

    expect(results).toStrictEqual([{ id: "e1", status: "delivered" }]);
    const input = pinpoint.commandCalls(PutEventsCommand)[0]?.args[0].input;
    expect(Object.keys(input?.EventsRequest?.BatchItem ?? {})).toStrictEqual(["found-ep"]);
    expect(input?.EventsRequest?.BatchItem?.["found-ep"]?.Endpoint).toStrictEqual({});
  });

  it("maps per-event status codes: 202 delivered, 429/5xx retry, other 4xx permanent; no throw", async () => {
    const codes: Record<string, number> = { ok: 202, slow: 429, broken: 503, bad: 400 };
    pinpoint
      .on(PutEventsCommand)
      .callsFake((input: PutEventsCommandInput) => answerAll(input, (id) => codes[id] ?? 202));

    const results = await sink().deliver(["ok", "slow", "broken", "bad"].map((id) => event(id)));

    expect(results).toStrictEqual([
      { id: "ok", status: "delivered" },
      { id: "slow", status: "retry", error: "Pinpoint PutEvents refused the event: status 429" },
      { id: "broken", status: "retry", error: "Pinpoint PutEvents refused the event: status 503" },
      { id: "bad", status: "permanent", error: "Pinpoint PutEvents refused the event: status 400" },
    ]);
    expect(pinpoint.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it("uses the endpoint item's status when the event has none, and retry when nothing answers", async () => {
    pinpoint.on(PutEventsCommand).resolves({
      EventsResponse: {
        Results: {
          "ep-user-refused": { EndpointItemResponse: { StatusCode: 400, Message: "bad endpoint" } },
          "ep-user-accepted": { EndpointItemResponse: { StatusCode: 202 } },
        },
      },
    });

    const results = await sink().deliver([
      event("e1", "user-refused"),
      event("e2", "user-accepted"),
      event("e3", "user-missing"),
    ]);

    expect(results).toStrictEqual([
      { id: "e1", status: "permanent", error: "Pinpoint PutEvents refused the endpoint item: status 400" },
      { id: "e2", status: "retry", error: "Pinpoint PutEvents returned no result for the event" },
      { id: "e3", status: "retry", error: "Pinpoint PutEvents returned no result for the event" },
    ]);
  });

  it("sends 250 events of one app in 3 requests of at most 100, apps apart", async () => {
    pinpoint.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => answerAll(input));
    const batch = Array.from({ length: 250 }, (_, index) => event(`e${index}`, `user-${index % 40}`));
    const other = { ...event("other"), notification: { ...event("other").notification, appId: "app-2" } };

    const results = await sink().deliver([...batch, other]);

    expect(results).toHaveLength(251);
    expect(results.every((result) => result.status === "delivered")).toBe(true);
    const inputs = pinpoint.commandCalls(PutEventsCommand).map((call) => call.args[0].input);
    const count = (input: PutEventsCommandInput) =>
      Object.values(input.EventsRequest?.BatchItem ?? {}).reduce(
        (sum, item) => sum + Object.keys(item.Events ?? {}).length,
        0,
      );
    const app1 = inputs.filter((input) => input.ApplicationId === "app-1");
    expect(app1.map(count)).toStrictEqual([100, 100, 50]);
    expect(inputs.filter((input) => input.ApplicationId === "app-2").map(count)).toStrictEqual([1]);
    // Every event sent exactly once.
    const sent = app1.flatMap((input) =>
      Object.values(input.EventsRequest?.BatchItem ?? {}).flatMap((item) => Object.keys(item.Events ?? {})),
    );
    expect(new Set(sent).size).toBe(250);
    expect(sent).toHaveLength(250);
  });

  it("retries a whole request throttled with 429 and delivers each event once", async () => {
    let call = 0;
    pinpoint.on(PutEventsCommand).callsFake(async (input: PutEventsCommandInput) => {
      call++;
      if (call <= 4) throw throttled();
      return answerAll(input);
    });

    const results = await sink({ maxRetries: 5 }).deliver([event("e1"), event("e2")]);

    expect(results).toStrictEqual([
      { id: "e1", status: "delivered" },
      { id: "e2", status: "delivered" },
    ]);
    // 4 refused sends, 1 accepted: the accepted one carries each event once.
    expect(pinpoint.commandCalls(PutEventsCommand)).toHaveLength(5);
    expect(sleeps).toHaveLength(4);
    const last = pinpoint.commandCalls(PutEventsCommand)[4]?.args[0].input;
    expect(
      keysDeep(last?.EventsRequest?.BatchItem).filter((key) => key === "e1" || key === "e2"),
    ).toStrictEqual(["e1", "e2"]);
  });

  it("answers retry for every event of a request that stays throttled, permanent on 400", async () => {
    pinpoint
      .on(PutEventsCommand, { ApplicationId: "app-1" })
      .rejects(throttled())
      .on(PutEventsCommand, { ApplicationId: "app-2" })
      .rejects(new BadRequestException({ $metadata: { httpStatusCode: 400 }, message: "bad" }));
    const other = { ...event("c"), notification: { ...event("c").notification, appId: "app-2" } };

    const results = await sink({ maxRetries: 1 }).deliver([event("a"), event("b"), other]);

    expect(results.map(({ id, status }) => [id, status])).toStrictEqual([
      ["a", "retry"],
      ["b", "retry"],
      ["c", "permanent"],
    ]);
    expect(pinpoint.commandCalls(PutEventsCommand, { ApplicationId: "app-1" })).toHaveLength(2);
    expect(pinpoint.commandCalls(PutEventsCommand, { ApplicationId: "app-2" })).toHaveLength(1);
  });

  it("refuses event types over 50 characters and notifications without an app id", async () => {
    const long = {
      ...event("long"),
      notification: { ...event("long").notification, name: `trk_${"x".repeat(47)}` },
    };
    const noApp = { ...event("noapp"), notification: { ...event("noapp").notification, appId: "" } };

    const results = await sink().deliver([long, noApp]);

    expect(results).toStrictEqual([
      { id: "long", status: "permanent", error: "the event type is 51 characters, over Pinpoint's 50" },
      { id: "noapp", status: "permanent", error: expect.stringMatching(/no Pinpoint application id/) },
    ]);
    expect(pinpoint.calls()).toHaveLength(0);
  });
});

describe("buildPinpointSink: rate limit", () => {
  it("defaults to a rate whose total over the function's concurrency stays a tenth of Pinpoint's quotas", async () => {
    // The function's largest concurrency, as serverless.yml sets it on the queue mapping.
    const yml = await readFile(new URL("../serverless.yml", import.meta.url), "utf8");
    const maximumConcurrency = Number(/^\s+maximumConcurrency:\s*(\d+)\s*$/m.exec(yml)?.[1]);
    expect(maximumConcurrency).toBeGreaterThan(0);
    const lowest = Math.min(PINPOINT_QUOTAS.updateEndpoint, PINPOINT_QUOTAS.putEvents);
    expect(DEFAULT_PINPOINT_REQUESTS_PER_SECOND * maximumConcurrency).toBeLessThanOrEqual(lowest / 10);

    // And the sink holds to it: one second's worth of requests, then it waits.
    let time = 0;
    const waits: number[] = [];
    const s = buildPinpointSink(client, {
      applicationId: "app-1",
      now: () => time,
      sleep: async (ms) => {
        waits.push(ms);
        time += ms;
      },
      concurrency: 1,
    });
    pinpoint.on(UpdateEndpointCommand).resolves({});
    const batch = Array.from({ length: DEFAULT_PINPOINT_REQUESTS_PER_SECOND + 1 }, (_, i) =>
      attribute(`m-${i}`, "big_spender", "Ready", `ep-${i}`),
    );
    await s.deliver(batch);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeCloseTo(1000 / DEFAULT_PINPOINT_REQUESTS_PER_SECOND);
  });

  it("holds each app to maxRequestsPerSecond with a token bucket", async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: {} });
    const app2 = attribute("z", "big_spender", "Ready", "ep-z");
    const batch = [
      ...["a", "b", "c", "d", "e"].map((id) => attribute(id, "big_spender", "Ready", `ep-${id}`)),
      { ...app2, notification: { ...app2.notification, appId: "app-2" } },
    ];

    const results = await sink({ maxRequestsPerSecond: 2 }).deliver(batch);

    expect(results.every((result) => result.status === "delivered")).toBe(true);
    // The clock stands still: app-1 gets 2 at once, then waits 0.5 s more for each; app-2 is apart.
    expect(sleeps).toStrictEqual([500, 1000, 1500]);
  });

  it("refills the bucket as time passes", async () => {
    pinpoint.on(UpdateEndpointCommand).resolves({ MessageBody: {} });
    let time = 0;
    const s = sink({ maxRequestsPerSecond: 1, now: () => time, concurrency: 1 });

    await s.deliver([attribute("a", "n", "v", "ep")]);
    time = 1000;
    await s.deliver([attribute("b", "n", "v", "ep")]);
    time = 1500;
    await s.deliver([attribute("c", "n", "v", "ep")]);

    expect(sleeps).toStrictEqual([500]);
  });
});
