import {
  AccessDeniedException,
  BadRequestException,
  CustomerProfilesClient,
  InternalServerException,
  PutProfileObjectCommand,
  ResourceNotFoundException,
  SearchProfilesCommand,
  ThrottlingException,
  UpdateProfileCommand,
} from "@aws-sdk/client-customer-profiles";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import {
  buildCustomerProfilesSink,
  type CustomerProfilesSinkConfig,
} from "../src/sinks/customerProfilesSink.js";
import { EVENT, message, notification } from "./fixtures.js";

const profiles = mockClient(CustomerProfilesClient);

beforeEach(() => {
  profiles.reset();
});

function sink(options: Partial<CustomerProfilesSinkConfig> = {}) {
  const sleeps: number[] = [];
  const built = buildCustomerProfilesSink(new CustomerProfilesClient({ region: "eu-west-1" }), {
    domainName: "pia-domain",
    objectTypeName: "pia-notification",
    keyName: "userId",
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

/** Every user `user-X` has profile `profile-X`. */
function profilePerUser() {
  profiles.on(SearchProfilesCommand).callsFake((input: { Values: string[] }) => ({
    Items: input.Values.map((userId) => ({ ProfileId: userId.replace("user-", "profile-") })),
  }));
}

const throttled = () =>
  new ThrottlingException({ message: "Rate exceeded", $metadata: { httpStatusCode: 429 } });

describe("buildCustomerProfilesSink", () => {
  it("finds the profile by the user id and sets the attribute with UpdateProfile", async () => {
    profilePerUser();
    profiles.on(UpdateProfileCommand).resolves({ ProfileId: "profile-1" });
    const { sink: built } = sink();

    const results = await built.deliver([message("fire-a", "user-1")]);

    expect(built.name).toBe("customer-profiles");
    expect(results).toStrictEqual([{ id: "fire-a", status: "delivered" }]);
    expect(profiles.commandCalls(SearchProfilesCommand).map((call) => call.args[0].input)).toStrictEqual([
      { DomainName: "pia-domain", KeyName: "userId", Values: ["user-1"], MaxResults: 2 },
    ]);
    expect(profiles.commandCalls(UpdateProfileCommand).map((call) => call.args[0].input)).toStrictEqual([
      { DomainName: "pia-domain", ProfileId: "profile-1", Attributes: { big_spender: "Ready" } },
    ]);
    expect(profiles.commandCalls(PutProfileObjectCommand)).toHaveLength(0);
  });

  it("puts an event action as an object of pia's type, without a search: its PROFILE key finds the profile", async () => {
    profiles.on(PutProfileObjectCommand).resolves({ ProfileObjectUniqueKey: "k" });

    const results = await sink({ keyName: "_segmentUserId" }).sink.deliver([EVENT]);

    expect(results).toStrictEqual([{ id: "fire-e", status: "delivered" }]);
    expect(profiles.commandCalls(SearchProfilesCommand)).toHaveLength(0);
    const puts = profiles.commandCalls(PutProfileObjectCommand).map((call) => call.args[0].input);
    expect(puts).toStrictEqual([
      {
        DomainName: "pia-domain",
        ObjectTypeName: "pia-notification",
        Object:
          '{"id":"fire-e","userId":"user-2","appId":"app-1","ruleId":"viewer","type":"event","name":"trk_viewer","at":"2024-03-15T10:30:00.123Z"}',
      },
    ]);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(0);
  });

  it("looks each user up once per deliver call", async () => {
    profilePerUser();
    profiles.on(UpdateProfileCommand).resolves({});
    profiles.on(PutProfileObjectCommand).resolves({});
    const batch = [
      message("a", "user-1"),
      message("b", "user-2"),
      message("c", "user-1"),
      EVENT,
      message("d", "user-1"),
    ];

    const results = await sink().sink.deliver(batch);

    expect(results.map(({ status }) => status)).toStrictEqual(Array(5).fill("delivered"));
    const searched = profiles.commandCalls(SearchProfilesCommand).map((call) => call.args[0].input.Values);
    expect(searched.sort()).toStrictEqual([["user-1"], ["user-2"]]);
    const updated = profiles.commandCalls(UpdateProfileCommand).map((call) => call.args[0].input.ProfileId);
    expect(updated.sort()).toStrictEqual(["profile-1", "profile-1", "profile-1", "profile-2"]);
  });

  it("creates the profile of a user without one through the object type, finds it again and sets the attribute", async () => {
    profiles
      .on(SearchProfilesCommand)
      .resolvesOnce({ Items: [] })
      .resolves({ Items: [{ ProfileId: "created" }] });
    profiles.on(PutProfileObjectCommand).resolves({ ProfileObjectUniqueKey: "k" });
    profiles.on(UpdateProfileCommand).resolves({});

    const results = await sink().sink.deliver([message("a", "user-new"), message("b", "user-new")]);

    expect(results.map(({ status }) => status)).toStrictEqual(["delivered", "delivered"]);
    expect(profiles.commandCalls(SearchProfilesCommand)).toHaveLength(2);
    const put = profiles
      .commandCalls(PutProfileObjectCommand)
      .map((call) => JSON.parse(call.args[0].input.Object ?? ""));
    expect(put).toStrictEqual([
      {
        id: "a",
        userId: "user-new",
        appId: "app-1",
        ruleId: "big-spender",
        type: "attribute",
        name: "big_spender",
        value: "Ready",
        at: "2021-01-31T23:59:59.999Z",
      },
    ]);
    expect(
      profiles.commandCalls(UpdateProfileCommand).map((call) => call.args[0].input.ProfileId),
    ).toStrictEqual(["created", "created"]);
  });

  it("answers retry when the profile it created cannot be found yet, without the user id in the error", async () => {
    profiles.on(SearchProfilesCommand).resolves({ Items: [] });
    profiles.on(PutProfileObjectCommand).resolves({});

    const results = await sink().sink.deliver([message("a", "user-secret")]);

    expect(results).toStrictEqual([
      {
        id: "a",
        status: "retry",
        error: "the profile created for the user is not found under key userId yet",
      },
    ]);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(0);
  });

  it('removes an attribute sent with the value "" (UpdateProfile removes an empty string), and creates no profile to remove it from', async () => {
    profiles.on(SearchProfilesCommand).callsFake((input: { Values: string[] }) => ({
      Items: input.Values[0] === "user-1" ? [{ ProfileId: "profile-1" }] : [],
    }));
    profiles.on(UpdateProfileCommand).resolves({});
    const exit = (id: string, userId: string) => {
      const built = message(id, userId);
      return { ...built, notification: { ...built.notification, value: "" } };
    };

    const results = await sink().sink.deliver([exit("a", "user-1"), exit("b", "user-none")]);

    expect(results.map(({ status }) => status)).toStrictEqual(["delivered", "delivered"]);
    expect(profiles.commandCalls(UpdateProfileCommand).map((call) => call.args[0].input)).toStrictEqual([
      { DomainName: "pia-domain", ProfileId: "profile-1", Attributes: { big_spender: "" } },
    ]);
    expect(profiles.commandCalls(PutProfileObjectCommand)).toHaveLength(0);
  });

  const long = "x".repeat(256);
  const attribute = notification("user-1");
  it.each([
    ["an attribute name", { ...attribute, name: long }, /attribute name is longer than 255 characters/],
    ["an attribute value", { ...attribute, value: long }, /attribute value is longer than 255 characters/],
    ["a user id", { ...attribute, userId: long }, /user id is longer than 255 characters/],
    [
      "an object",
      { ...EVENT.notification, name: `trk_${"x".repeat(256_000)}` },
      /object is longer than 256000 characters/,
    ],
  ])("refuses %s over Customer Profiles' limit for good, before any call", async (_what, changed, error) => {
    const results = await sink().sink.deliver([{ id: "a", notification: changed }]);

    expect(results).toStrictEqual([{ id: "a", status: "permanent", error: expect.stringMatching(error) }]);
    expect(profiles.calls()).toHaveLength(0);
  });

  it("answers permanent when more than one profile has the user id", async () => {
    profiles.on(SearchProfilesCommand).resolves({ Items: [{ ProfileId: "p1" }, { ProfileId: "p2" }] });

    const results = await sink().sink.deliver([message("a")]);

    expect(results).toStrictEqual([
      {
        id: "a",
        status: "permanent",
        error: "more than one profile for the user under key userId (the key must identify one profile)",
      },
    ]);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(0);
  });

  it("backs off after throttling and applies each notification once", async () => {
    profiles
      .on(SearchProfilesCommand)
      .rejectsOnce(throttled())
      .resolves({ Items: [{ ProfileId: "p1" }] });
    profiles.on(UpdateProfileCommand).rejectsOnce(throttled()).resolves({});
    const { sink: built, sleeps } = sink();

    const results = await built.deliver([message("a")]);

    expect(results).toStrictEqual([{ id: "a", status: "delivered" }]);
    expect(profiles.commandCalls(SearchProfilesCommand)).toHaveLength(2);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(2);
    expect(sleeps).toStrictEqual([50, 50]);
  });

  it("answers retry when throttling or a 5xx lasts past the last attempt", async () => {
    profilePerUser();
    profiles.on(UpdateProfileCommand).rejects(throttled());
    profiles
      .on(PutProfileObjectCommand)
      .rejects(new InternalServerException({ message: "x", $metadata: { httpStatusCode: 500 } }));
    const { sink: built, sleeps } = sink();

    const results = await built.deliver([message("a", "user-1"), EVENT]);

    expect(results).toStrictEqual([
      {
        id: "a",
        status: "retry",
        error: "Customer Profiles UpdateProfile failed: ThrottlingException (HTTP 429); retries exhausted",
      },
      {
        id: "fire-e",
        status: "retry",
        error:
          "Customer Profiles PutProfileObject failed: InternalServerException (HTTP 500); retries exhausted",
      },
    ]);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(3);
    expect(profiles.commandCalls(PutProfileObjectCommand)).toHaveLength(3);
    expect(sleeps).toHaveLength(4);
  });

  it("answers permanent, without retrying, for bad requests, missing resources and refused access", async () => {
    profiles.on(SearchProfilesCommand).callsFake((input: { Values: string[] }) => {
      if (input.Values[0] === "user-3") {
        throw new ResourceNotFoundException({ message: "domain user-3", $metadata: { httpStatusCode: 404 } });
      }
      return { Items: [{ ProfileId: input.Values[0]?.replace("user-", "profile-") }] };
    });
    profiles
      .on(UpdateProfileCommand)
      .rejects(new BadRequestException({ message: "bad value Ready", $metadata: { httpStatusCode: 400 } }));
    profiles
      .on(PutProfileObjectCommand)
      .rejects(new AccessDeniedException({ message: "denied", $metadata: { httpStatusCode: 403 } }));

    const results = await sink().sink.deliver([message("a", "user-1"), EVENT, message("c", "user-3")]);

    expect(results).toStrictEqual([
      {
        id: "a",
        status: "permanent",
        error: "Customer Profiles UpdateProfile failed: BadRequestException (HTTP 400)",
      },
      {
        id: "fire-e",
        status: "permanent",
        error: "Customer Profiles PutProfileObject failed: AccessDeniedException (HTTP 403)",
      },
      {
        id: "c",
        status: "permanent",
        error: "Customer Profiles SearchProfiles failed: ResourceNotFoundException (HTTP 404)",
      },
    ]);
    // The event action needs no search.
    expect(profiles.commandCalls(SearchProfilesCommand)).toHaveLength(2);
    expect(profiles.commandCalls(UpdateProfileCommand)).toHaveLength(1);
    expect(profiles.commandCalls(PutProfileObjectCommand)).toHaveLength(1);
  });
});
