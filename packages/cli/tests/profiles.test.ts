import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateDomainCommand,
  CustomerProfilesClient,
  PutProfileObjectCommand,
  PutProfileObjectTypeCommand,
} from "@aws-sdk/client-customer-profiles";
import type { NotificationMessage } from "@pia/aws";
import { type LocalCustomerProfiles, startLocalCustomerProfiles } from "@pia/local-stack";
import { buildOneSink } from "@pia/notifier";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { pia } from "./capture.js";

let local: LocalCustomerProfiles;
let client: CustomerProfilesClient;
let dir: string;
let domains = 0;

beforeAll(async () => {
  local = await startLocalCustomerProfiles();
  client = new CustomerProfilesClient({
    endpoint: local.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  dir = await mkdtemp(join(tmpdir(), "pia-profiles-"));
});
afterAll(async () => {
  client.destroy();
  await local.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.unstubAllEnvs();
  local.throttleEvery(0);
});

/** The SDK of every client in this process (the notifier's too) talks to the stand-in. */
function pointAtLocal(): void {
  vi.stubEnv("AWS_ENDPOINT_URL_CUSTOMER_PROFILES", local.endpoint);
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "x");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "x");
}

/** A domain holding only the app's own profiles: type `app-user`, PROFILE key `appUserId`. */
async function appDomain(users: readonly string[]): Promise<string> {
  const DomainName = `shop${++domains}`;
  await client.send(new CreateDomainCommand({ DomainName, DefaultExpirationDays: 366 }));
  await client.send(
    new PutProfileObjectTypeCommand({
      DomainName,
      ObjectTypeName: "app-user",
      Description: "the app's sign-ups",
      AllowProfileCreation: true,
      Fields: {
        customerId: { Source: "_source.customerId", ContentType: "STRING" },
        plan: { Source: "_source.plan", Target: "_profile.Attributes.plan", ContentType: "STRING" },
      },
      Keys: { appUserId: [{ StandardIdentifiers: ["PROFILE", "UNIQUE"], FieldNames: ["customerId"] }] },
    }),
  );
  for (const customerId of users) {
    await client.send(
      new PutProfileObjectCommand({
        DomainName,
        ObjectTypeName: "app-user",
        Object: JSON.stringify({ customerId, plan: "free" }),
      }),
    );
  }
  return DomainName;
}

/** The one profile id the key value finds (fails on none or several). */
function profileOf(domain: string, userId: string): string {
  const found = local.profiles(domain).filter((profile) => profile.keys.appUserId?.includes(userId));
  expect(found).toHaveLength(1);
  return found[0]?.profileId ?? "";
}

describe("pia profiles setup", () => {
  it("creates pia's object type on the app's domain, then finds it and changes nothing", async () => {
    pointAtLocal();
    const domain = await appDomain(["u1"]);

    const first = await pia("profiles", "setup", "--domain", domain, "--key", "appUserId");
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(first.stdout).toBe(
      `created object type pia-notification in domain ${domain} (PROFILE key appUserId on userId, UNIQUE key piaNotificationId on id, profile creation allowed)\nkey appUserId is also defined by app-user: pia's objects land on those profiles\n`,
    );
    const calls = local.requests().byOperation.PutProfileObjectType ?? 0;

    const second = await pia("profiles", "setup", "--domain", domain, "--key", "appUserId");
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(
      /^found object type pia-notification in domain shop\d+ as pia needs it .*; nothing changed\n/,
    );
    expect(local.requests().byOperation.PutProfileObjectType).toBe(calls);
  });

  it("says when no other type defines the key, on a fresh domain", async () => {
    pointAtLocal();
    const domain = await appDomain([]);
    const result = await pia(
      "profiles",
      "setup",
      "--domain",
      domain,
      "--key",
      "crmId",
      "--object-type",
      "pia_dev",
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("created object type pia_dev");
    expect(result.stdout).toContain("no other object type defines key crmId");
  });

  it("refuses a domain that does not exist, with exit 2 and how to create it", async () => {
    pointAtLocal();
    const result = await pia("profiles", "setup", "--domain", "nowhere", "--key", "appUserId");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^pia: no Customer Profiles domain nowhere in region us-east-1: create it first/,
    );
  });

  it("refuses an object type of that name with another definition, and changes nothing", async () => {
    pointAtLocal();
    const domain = await appDomain([]);
    const result = await pia(
      "profiles",
      "setup",
      "--domain",
      domain,
      "--key",
      "appUserId",
      "--object-type",
      "app-user",
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /object type app-user exists in domain shop\d+ with another definition \(key appUserId is PROFILE\+UNIQUE on customerId, pia needs PROFILE on userId; key piaNotificationId is missing/,
    );
  });

  it("refuses a key another object type defines with another meaning", async () => {
    pointAtLocal();
    const domain = await appDomain([]);
    await client.send(
      new PutProfileObjectTypeCommand({
        DomainName: domain,
        ObjectTypeName: "orders",
        Description: "orders",
        Fields: { orderId: { Source: "_source.orderId" } },
        Keys: { orderKey: [{ StandardIdentifiers: ["UNIQUE"], FieldNames: ["orderId"] }] },
      }),
    );
    const result = await pia("profiles", "setup", "--domain", domain, "--key", "orderKey");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /object type orders of domain shop\d+ defines key orderKey as UNIQUE, not as a PROFILE key/,
    );
  });

  it("refuses a key name the API would refuse, before any call", async () => {
    const result = await pia("profiles", "setup", "--domain", "d", "--key", "user id");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--key "user id": a key name is 1-64 letters/);
  });
});

const RULES = JSON.stringify([
  {
    id: "viewer",
    event: "pageview",
    count: { op: ">", value: 1 },
    action: { type: "attribute", name: "viewer", value: "Ready" },
  },
  {
    id: "first-view",
    event: "pageview",
    count: { op: ">=", value: 1 },
    action: { type: "event", name: "trk_first_view" },
  },
]);

const pageview = (userId: string, day: number) =>
  JSON.stringify({
    event_type: "pageview",
    event_timestamp: Date.UTC(2024, 0, day),
    endpoint: { Id: `ep-${userId}`, User: { UserId: userId } },
    application: { app_id: "shop" },
  });

describe("the customer-profiles sink on a domain holding only the app's profiles", () => {
  it("pia profiles setup, then pia local --sink customer-profiles: every notification on the right profile once, no duplicate profile, under throttling", async () => {
    pointAtLocal();
    const known = ["u1", "u2"];
    const users = [...known, "u3", "u4"];
    const domain = await appDomain(known);
    const before = new Map(known.map((user) => [user, profileOf(domain, user)]));
    expect((await pia("profiles", "setup", "--domain", domain, "--key", "appUserId")).code).toBe(0);
    await writeFile(join(dir, "rules.json"), RULES);
    await writeFile(
      join(dir, "events.ndjson"),
      users.flatMap((user) => [pageview(user, 1), pageview(user, 2)]).join("\n"),
    );
    local.throttleEvery(3);

    const out = join(dir, "out.ndjson");
    const result = await pia(
      "local",
      ...["--rules", join(dir, "rules.json"), "--events", join(dir, "events.ndjson"), "--out", out],
      ...["--sink", "customer-profiles", "--profiles-domain", domain, "--profiles-key", "appUserId"],
    );

    expect(result.code, result.stderr).toBe(0);
    expect(local.requests().throttled).toBeGreaterThan(0);
    const delivered = (await readFile(out, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(delivered).toHaveLength(users.length * 2);
    expect(local.profiles(domain)).toHaveLength(users.length);
    const objects = local.objects(domain, "pia-notification");
    for (const user of users) {
      const profileId = profileOf(domain, user);
      if (before.has(user)) expect(profileId).toBe(before.get(user));
      const profile = local.profiles(domain).find((item) => item.profileId === profileId);
      expect(profile?.attributes).toMatchObject({ viewer: "Ready" });
      const events = objects.filter(({ object }) => object.userId === user && object.type === "event");
      expect(events.map(({ profileId: id, object }) => [id, object.name])).toStrictEqual([
        [profileId, "trk_first_view"],
      ]);
    }
    // An attribute notification is an object only where it had to create the profile: never for
    // the app's users (here the event, decided first, usually created it).
    const attributeObjects = objects
      .filter(({ object }) => object.type === "attribute")
      .map(({ object }) => object.userId);
    expect(attributeObjects.filter((user) => known.includes(String(user)))).toStrictEqual([]);
    expect(new Set(attributeObjects).size).toBe(attributeObjects.length);
  }, 180_000);

  it("keeps one profile and one object per notification when a batch is delivered again, or by two containers at once", async () => {
    pointAtLocal();
    const domain = await appDomain(["u1"]);
    expect((await pia("profiles", "setup", "--domain", domain, "--key", "appUserId")).code).toBe(0);
    const sinkOf = () =>
      buildOneSink({
        name: "customer-profiles",
        domainName: domain,
        keyName: "appUserId",
        objectTypeName: "pia-notification",
      });
    const at = "2024-01-01T00:00:00.000Z";
    const batch: NotificationMessage[] = ["u1", "u9"].flatMap((userId) => [
      {
        id: `a-${userId}`,
        notification: {
          appId: "shop",
          userId,
          ruleId: "r",
          type: "attribute",
          name: "vip",
          value: "Ready",
          at,
        },
      },
      {
        id: `e-${userId}`,
        notification: { appId: "shop", userId, ruleId: "r", type: "event", name: "trk_vip", at },
      },
    ]);
    local.throttleEvery(4);

    const [first, second] = await Promise.all([sinkOf().deliver(batch), sinkOf().deliver(batch)]);
    const third = await sinkOf().deliver(batch);

    for (const results of [first, second, third])
      expect(results.map(({ status }) => status)).toStrictEqual([
        "delivered",
        "delivered",
        "delivered",
        "delivered",
      ]);
    expect(local.profiles(domain)).toHaveLength(2);
    const objects = local
      .objects(domain, "pia-notification")
      .map(({ profileId, object }) => [object.id, profileId]);
    const u1 = profileOf(domain, "u1");
    const u9 = profileOf(domain, "u9");
    expect(objects.sort()).toStrictEqual([
      ["a-u9", u9],
      ["e-u1", u1],
      ["e-u9", u9],
    ]);
  });
});
