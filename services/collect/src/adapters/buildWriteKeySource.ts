import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { Now, ReadWriteKeys } from "../ports.js";

export interface WriteKeySourceConfig {
  /** The SSM parameter (a SecureString) holding the key, or several separated by commas or spaces. */
  readonly parameterName: string;
  /** How long the keys are used before they are read again, ms. */
  readonly ttlMs: number;
  readonly now?: Now;
}

/** The write keys could not be read; names the parameter and the problem, never a value. */
export class WriteKeySourceError extends Error {
  override readonly name = "WriteKeySourceError";
}

/** A parameter's value as keys: several while one is rotated (the old and the new). */
export function parseWriteKeys(value: string): string[] {
  return value.split(/[\s,]+/).filter((key) => key !== "");
}

/**
 * Reads the write keys from SSM Parameter Store (GetParameter, WithDecryption) and keeps them for
 * `ttlMs`, so a rotated key is picked up within that time. Concurrent calls share one read; a
 * failed read is not kept. The keys are never logged nor put in an error.
 */
export function buildWriteKeySource(ssm: SSMClient, config: WriteKeySourceConfig): ReadWriteKeys {
  const now = config.now ?? Date.now;
  const what = `write key: SSM parameter "${config.parameterName}"`;
  const read = async (): Promise<readonly string[]> => {
    let value: string | undefined;
    try {
      const output = await ssm.send(
        new GetParameterCommand({ Name: config.parameterName, WithDecryption: true }),
      );
      value = output.Parameter?.Value;
    } catch (error: unknown) {
      const name = error instanceof Error ? error.name : "unknown error";
      const problem = name === "ParameterNotFound" ? "does not exist" : `cannot be read (${name})`;
      throw new WriteKeySourceError(`${what} ${problem}`, { cause: error });
    }
    const keys = parseWriteKeys(value ?? "");
    if (keys.length === 0) throw new WriteKeySourceError(`${what} has no value`);
    return keys;
  };
  let cached: { readonly keys: Promise<readonly string[]>; readonly expiresAt: number } | undefined;
  return () => {
    const at = now();
    if (cached !== undefined && at < cached.expiresAt) return cached.keys;
    const entry = { keys: read(), expiresAt: at + config.ttlMs };
    cached = entry;
    entry.keys.catch(() => {
      if (cached === entry) cached = undefined;
    });
    return entry.keys;
  };
}
