import { GetSecretValueCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { Now } from "../ports.js";

/** How long a secret is kept before it is read again (5 minutes). */
export const DEFAULT_SECRET_TTL_MS = 5 * 60 * 1000;

/**
 * Where the webhook secret lives: an SSM parameter (`ssm` + `parameterName`, a SecureString is
 * decrypted) or a Secrets Manager secret (`secretsManager` + `secretId`, its `SecretString`).
 * Exactly one of the two.
 */
export interface SecretSourceConfig {
  readonly ssm?: SSMClient;
  readonly secretsManager?: SecretsManagerClient;
  readonly parameterName?: string;
  readonly secretId?: string;
  /** How long a read secret is used before it is read again, ms (default 5 minutes). */
  readonly ttlMs?: number;
  /** The clock (tests inject one). */
  readonly now?: Now;
}

/**
 * The secret could not be read. The message names the parameter or secret and the problem, never
 * the value.
 */
export class SecretSourceError extends Error {
  override readonly name = "SecretSourceError";
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "unknown error";
}

function ssmReader(ssm: SSMClient, parameterName: string): () => Promise<string> {
  const what = `SSM parameter "${parameterName}"`;
  return async () => {
    let value: string | undefined;
    try {
      const output = await ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }));
      value = output.Parameter?.Value;
    } catch (error: unknown) {
      const name = errorName(error);
      const problem = name === "ParameterNotFound" ? "does not exist" : `cannot be read (${name})`;
      throw new SecretSourceError(`webhook secret: ${what} ${problem}`, { cause: error });
    }
    if (value === undefined || value === "") {
      throw new SecretSourceError(`webhook secret: ${what} has no value`);
    }
    return value;
  };
}

function secretsManagerReader(client: SecretsManagerClient, secretId: string): () => Promise<string> {
  const what = `Secrets Manager secret "${secretId}"`;
  return async () => {
    let value: string | undefined;
    try {
      const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
      value = output.SecretString;
    } catch (error: unknown) {
      const name = errorName(error);
      const problem = name === "ResourceNotFoundException" ? "does not exist" : `cannot be read (${name})`;
      throw new SecretSourceError(`webhook secret: ${what} ${problem}`, { cause: error });
    }
    if (value === undefined || value === "") {
      throw new SecretSourceError(
        `webhook secret: ${what} has no SecretString (binary secrets are not supported)`,
      );
    }
    return value;
  };
}

/**
 * Reads the webhook signing secret, from SSM Parameter Store (GetParameter, WithDecryption) or
 * Secrets Manager (GetSecretValue, SecretString), and keeps it for `ttlMs`: a rotated secret is
 * picked up within that time. Concurrent calls share one read; a failed read is not kept (the next
 * call reads again) and throws `SecretSourceError` naming the parameter or secret. The value is
 * never logged nor put in an error.
 */
export function buildSecretSource(config: SecretSourceConfig): () => Promise<string> {
  const { ssm, secretsManager, parameterName, secretId } = config;
  const ttlMs = config.ttlMs ?? DEFAULT_SECRET_TTL_MS;
  const now = config.now ?? Date.now;
  if (!Number.isFinite(ttlMs) || ttlMs < 0) {
    throw new RangeError(`webhook secret: ttlMs ${ttlMs} is not a number of ms >= 0`);
  }
  const fromSsm = ssm !== undefined || parameterName !== undefined;
  const fromSecretsManager = secretsManager !== undefined || secretId !== undefined;
  if (fromSsm === fromSecretsManager) {
    throw new SecretSourceError(
      "webhook secret: configure exactly one source, ssm + parameterName or secretsManager + secretId",
    );
  }
  let read: () => Promise<string>;
  if (fromSsm) {
    if (ssm === undefined || parameterName === undefined || parameterName === "") {
      throw new SecretSourceError("webhook secret: an SSM source needs both ssm and parameterName");
    }
    read = ssmReader(ssm, parameterName);
  } else {
    if (secretsManager === undefined || secretId === undefined || secretId === "") {
      throw new SecretSourceError(
        "webhook secret: a Secrets Manager source needs both secretsManager and secretId",
      );
    }
    read = secretsManagerReader(secretsManager, secretId);
  }

  let cached: { readonly value: Promise<string>; readonly expiresAt: number } | undefined;
  return () => {
    const at = now();
    if (cached !== undefined && at < cached.expiresAt) return cached.value;
    const value = read();
    const entry = { value, expiresAt: at + ttlMs };
    cached = entry;
    // A failed read is forgotten, so the next call tries again (unless a newer read replaced it).
    value.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return value;
  };
}
