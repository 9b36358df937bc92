import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { buildSecretSource, DEFAULT_SECRET_TTL_MS } from "../src/adapters/buildSecretSource.js";

const ssmMock = mockClient(SSMClient);
const smMock = mockClient(SecretsManagerClient);
const ssm = new SSMClient({ region: "us-east-1" });
const secretsManager = new SecretsManagerClient({ region: "us-east-1" });

const PARAMETER = "/pia/test/webhook-secret";
const SECRET_ID = "pia/test/webhook";
const VALUE = "s3cr3t-value-never-shown";

beforeEach(() => {
  ssmMock.reset();
  smMock.reset();
});

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("buildSecretSource with SSM", () => {
  it("reads the parameter decrypted and keeps it for ttlMs", async () => {
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Name: PARAMETER, Value: VALUE } })
      .resolvesOnce({ Parameter: { Name: PARAMETER, Value: "rotated" } });
    const time = clock();
    const secret = buildSecretSource({ ssm, parameterName: PARAMETER, ttlMs: 1000, now: time.now });

    expect(await Promise.all([secret(), secret()])).toEqual([VALUE, VALUE]);
    time.advance(999);
    expect(await secret()).toBe(VALUE);
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssmMock.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: PARAMETER,
      WithDecryption: true,
    });

    time.advance(1);
    expect(await secret()).toBe("rotated");
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it("caches for 5 minutes by default", async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: VALUE } });
    const time = clock();
    const secret = buildSecretSource({ ssm, parameterName: PARAMETER, now: time.now });
    await secret();
    time.advance(DEFAULT_SECRET_TTL_MS - 1);
    await secret();
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    time.advance(1);
    await secret();
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
    expect(DEFAULT_SECRET_TTL_MS).toBe(300_000);
  });

  it("names a missing parameter, not a value, and reads again on the next call", async () => {
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(new ParameterNotFound({ message: "not found", $metadata: {} }))
      .resolves({ Parameter: { Value: VALUE } });
    const secret = buildSecretSource({ ssm, parameterName: PARAMETER });

    await expect(secret()).rejects.toThrow(`webhook secret: SSM parameter "${PARAMETER}" does not exist`);
    expect(await secret()).toBe(VALUE);
  });

  it("refuses a parameter without a value", async () => {
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: PARAMETER } });
    const secret = buildSecretSource({ ssm, parameterName: PARAMETER });
    await expect(secret()).rejects.toThrow(`SSM parameter "${PARAMETER}" has no value`);
  });
});

describe("buildSecretSource with Secrets Manager", () => {
  it("reads SecretString and keeps it for ttlMs", async () => {
    smMock
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: VALUE })
      .resolvesOnce({ SecretString: "rotated" });
    const time = clock();
    const secret = buildSecretSource({ secretsManager, secretId: SECRET_ID, ttlMs: 60_000, now: time.now });

    expect(await secret()).toBe(VALUE);
    expect(await secret()).toBe(VALUE);
    expect(smMock.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(smMock.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: SECRET_ID });
    time.advance(60_000);
    expect(await secret()).toBe("rotated");
    expect(ssmMock.calls()).toHaveLength(0);
  });

  it("names a missing secret", async () => {
    smMock
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: "nope", $metadata: {} }));
    const secret = buildSecretSource({ secretsManager, secretId: SECRET_ID });
    await expect(secret()).rejects.toThrow(
      `webhook secret: Secrets Manager secret "${SECRET_ID}" does not exist`,
    );
  });

  it("refuses a binary secret and never puts a value in the error", async () => {
    smMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2, 3]) });
    const secret = buildSecretSource({ secretsManager, secretId: SECRET_ID });
    const error = await secret().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/has no SecretString/);
  });

  it("names another failure by its error name, without its message", async () => {
    smMock
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error(`denied ${VALUE}`), { name: "AccessDeniedException" }));
    const secret = buildSecretSource({ secretsManager, secretId: SECRET_ID });
    const error = (await secret().catch((caught: unknown) => caught)) as Error;
    expect(error.message).toBe(
      `webhook secret: Secrets Manager secret "${SECRET_ID}" cannot be read (AccessDeniedException)`,
    );
    expect(error.message).not.toContain(VALUE);
  });
});

describe("buildSecretSource configuration", () => {
  it("wants exactly one complete source", () => {
    expect(() => buildSecretSource({})).toThrow(/exactly one source/);
    expect(() =>
      buildSecretSource({ ssm, parameterName: PARAMETER, secretsManager, secretId: SECRET_ID }),
    ).toThrow(/exactly one source/);
    expect(() => buildSecretSource({ ssm })).toThrow(/needs both ssm and parameterName/);
    expect(() => buildSecretSource({ secretId: SECRET_ID })).toThrow(
      /needs both secretsManager and secretId/,
    );
    expect(() => buildSecretSource({ ssm, parameterName: PARAMETER, ttlMs: -1 })).toThrow(/ttlMs/);
  });
});
