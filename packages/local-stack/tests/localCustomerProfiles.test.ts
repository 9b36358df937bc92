import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import {
  CreateDomainCommand,
  CreateProfileCommand,
  CustomerProfilesClient,
  GetDomainCommand,
  GetProfileObjectTypeCommand,
  ListProfileObjectTypesCommand,
  PutProfileObjectCommand,
  PutProfileObjectTypeCommand,
  type PutProfileObjectTypeRequest,
  SearchProfilesCommand,
  UpdateProfileCommand,
} from "@aws-sdk/client-customer-profiles";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCustomerProfiles, startLocalCustomerProfiles } from "../src/index.js";

let local: LocalCustomerProfiles;
let client: CustomerProfilesClient;
let domainCount = 0;

beforeAll(async () => {
  local = await startLocalCustomerProfiles();
  client = new CustomerProfilesClient({
    endpoint: local.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await local.stop();
});

/** A fresh domain per test. */
async function newDomain(): Promise<string> {
  const DomainName = `d${++domainCount}`;
  await client.send(new CreateDomainCommand({ DomainName, DefaultExpirationDays: 366 }));
  return DomainName;
}

const userType = (DomainName: string, allow = true): PutProfileObjectTypeRequest => ({
  DomainName,
  ObjectTypeName: "app-user",
  Description: "the app's users",
  AllowProfileCreation: allow,
  Fields: {
    customerId: { Source: "_source.customerId", ContentType: "STRING" },
    plan: { Source: "_source.plan", Target: "_profile.Attributes.plan", ContentType: "STRING" },
    eventId: { Source: "_source.eventId", ContentType: "STRING" },
  },
  Keys: {
    appUserId: [{ StandardIdentifiers: ["PROFILE"], FieldNames: ["customerId"] }],
    appEventId: [{ StandardIdentifiers: ["UNIQUE"], FieldNames: ["eventId"] }],
  },
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: { name: string; message: string; $metadata: { httpStatusCode?: number } }) => ({
      name: error.name,
      status: error.$metadata.httpStatusCode,
      message: error.message,
    }),
  );

describe("the local Customer Profiles stand-in", () => {
  it("answers the SDK's errors: unknown domain and object type (404), a key on a field the type lacks (400)", async () => {
    expect(await failure(client.send(new GetDomainCommand({ DomainName: "nope" })))).toStrictEqual({
      name: "ResourceNotFoundException",
      status: 404,
      message: "domain nope does not exist",
    });
    const DomainName = await newDomain();
    expect(
      await failure(client.send(new GetProfileObjectTypeCommand({ DomainName, ObjectTypeName: "app-user" }))),
    ).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
    expect(
      await failure(
        client.send(
          new PutProfileObjectTypeCommand({
            ...userType(DomainName),
            Keys: { appUserId: [{ StandardIdentifiers: ["PROFILE"], FieldNames: ["missing"] }] },
          }),
        ),
      ),
    ).toMatchObject({
      name: "BadRequestException",
      status: 400,
      message: expect.stringMatching(/does not define/),
    });
    expect(
      await failure(
        client.send(
          new PutProfileObjectCommand({
            DomainName,
            ObjectTypeName: "app-user",
            Object: '{"customerId":"c1"}',
          }),
        ),
      ),
    ).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
  });

  it("creates and finds profiles through an object type's PROFILE key, merging objects with the same key value", async () => {
    const DomainName = await newDomain();
    await client.send(new PutProfileObjectTypeCommand(userType(DomainName)));
    const put = (object: object) =>
      client.send(
        new PutProfileObjectCommand({
          DomainName,
          ObjectTypeName: "app-user",
          Object: JSON.stringify(object),
        }),
      );
    await put({ customerId: "c1", plan: "free", eventId: "e1" });
    await put({ customerId: "c1", plan: "pro", eventId: "e2" });
    await put({ customerId: "c2", eventId: "e3" });

    const found = await client.send(
      new SearchProfilesCommand({ DomainName, KeyName: "appUserId", Values: ["c1"] }),
    );
    expect(found.Items).toHaveLength(1);
    expect(found.Items?.[0]?.Attributes).toStrictEqual({ plan: "pro" });
    expect(local.profiles(DomainName)).toHaveLength(2);
    expect(local.objects(DomainName, "app-user")).toHaveLength(3);
    const types = await client.send(new ListProfileObjectTypesCommand({ DomainName }));
    expect(types.Items?.map((item) => item.ObjectTypeName)).toStrictEqual(["app-user"]);
  });

  it("replaces the object that has the same UNIQUE key value instead of adding one", async () => {
    const DomainName = await newDomain();
    await client.send(new PutProfileObjectTypeCommand(userType(DomainName)));
    for (const plan of ["free", "pro"]) {
      await client.send(
        new PutProfileObjectCommand({
          DomainName,
          ObjectTypeName: "app-user",
          Object: JSON.stringify({ customerId: "c1", plan, eventId: "same" }),
        }),
      );
    }
    expect(local.objects(DomainName, "app-user").map(({ object }) => object.plan)).toStrictEqual(["pro"]);
  });

  it("creates no profile where the object type does not allow it", async () => {
    const DomainName = await newDomain();
    await client.send(new PutProfileObjectTypeCommand(userType(DomainName, false)));
    expect(
      await failure(
        client.send(
          new PutProfileObjectCommand({
            DomainName,
            ObjectTypeName: "app-user",
            Object: '{"customerId":"c9"}',
          }),
        ),
      ),
    ).toMatchObject({ name: "BadRequestException", status: 400 });
    expect(local.profiles(DomainName)).toStrictEqual([]);
  });

  it("searches only on keys the domain has, and checks values", async () => {
    const DomainName = await newDomain();
    expect(
      await failure(
        client.send(new SearchProfilesCommand({ DomainName, KeyName: "appUserId", Values: ["c1"] })),
      ),
    ).toMatchObject({ name: "BadRequestException", message: expect.stringMatching(/not a search key/) });
    const { ProfileId } = await client.send(
      new CreateProfileCommand({ DomainName, EmailAddress: "a@example.com" }),
    );
    const byEmail = await client.send(
      new SearchProfilesCommand({ DomainName, KeyName: "_email", Values: ["a@example.com"] }),
    );
    expect(byEmail.Items?.map((item) => item.ProfileId)).toStrictEqual([ProfileId]);
    expect(
      await failure(
        client.send(new SearchProfilesCommand({ DomainName, KeyName: "_email", Values: ["x".repeat(256)] })),
      ),
    ).toMatchObject({ name: "BadRequestException" });
  });

  it("sets attributes with UpdateProfile, removes one given as an empty string, and checks the 255-character limits", async () => {
    const DomainName = await newDomain();
    const { ProfileId } = await client.send(
      new CreateProfileCommand({ DomainName, Attributes: { a: "1", b: "2" } }),
    );
    await client.send(new UpdateProfileCommand({ DomainName, ProfileId, Attributes: { a: "", c: "3" } }));
    expect(local.profiles(DomainName)[0]?.attributes).toStrictEqual({ b: "2", c: "3" });
    for (const Attributes of [{ ["k".repeat(256)]: "v" }, { k: "v".repeat(256) }]) {
      expect(
        await failure(client.send(new UpdateProfileCommand({ DomainName, ProfileId, Attributes }))),
      ).toMatchObject({ name: "BadRequestException", status: 400 });
    }
    expect(
      await failure(
        client.send(new UpdateProfileCommand({ DomainName, ProfileId: "nope", Attributes: { a: "1" } })),
      ),
    ).toMatchObject({ name: "ResourceNotFoundException", status: 404 });
  });

  it("refuses an object over 256,000 characters", async () => {
    const DomainName = await newDomain();
    await client.send(new PutProfileObjectTypeCommand(userType(DomainName)));
    const huge = JSON.stringify({ customerId: "c1", plan: "x".repeat(256_000) });
    expect(
      await failure(
        client.send(new PutProfileObjectCommand({ DomainName, ObjectTypeName: "app-user", Object: huge })),
      ),
    ).toMatchObject({ name: "BadRequestException", status: 400 });
  });

  it("throttles every Nth request with HTTP 429 ThrottlingException when asked", async () => {
    local.throttleEvery(2);
    try {
      await client.send(new GetDomainCommand({ DomainName: "nope" })).catch(() => undefined);
      expect(await failure(client.send(new GetDomainCommand({ DomainName: "nope" })))).toMatchObject({
        name: "ThrottlingException",
        status: 429,
      });
      expect(local.requests().throttled).toBe(1);
    } finally {
      local.throttleEvery(0);
    }
  });

  it("accepts connections on the loopback only, not on another interface of this machine", async () => {
    const { port } = new URL(local.endpoint);
    const others = Object.values(networkInterfaces())
      .flat()
      .flatMap((entry) =>
        entry === undefined || entry.internal || entry.family !== "IPv4" ? [] : [entry.address],
      );
    expect(others.length).toBeGreaterThan(0);
    for (const host of others) expect(await tryConnect(host, Number(port))).toBe("ECONNREFUSED");
    expect(await tryConnect("127.0.0.1", Number(port))).toBe("connected");
  });
});

/** "connected", or the errno of a refused or failed TCP connect to host:port. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
