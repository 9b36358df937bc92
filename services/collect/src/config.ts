import { type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

export interface CollectConfig {
  /** The ingest stream's ARN (`STREAM_ARN`): every call is put there. */
  readonly streamArn: string;
  /** The SSM SecureString parameter holding the write key(s) (`WRITE_KEY_PARAMETER`). */
  readonly writeKeyParameter: string;
  /** How long the write keys are cached, ms (`WRITE_KEY_CACHE_SECONDS`). */
  readonly writeKeyTtlMs: number;
  /** How long a request retries what the stream refused before answering 503 (`PUT_BUDGET_MS`). */
  readonly putBudgetMs: number;
}

export const DEFAULT_WRITE_KEY_CACHE_SECONDS = 60;
export const DEFAULT_PUT_BUDGET_MS = 3000;

const STREAM_ARN = /^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/;
const PARAMETER_NAME = /^\/[A-Za-z0-9_.\-/]{1,2047}$/;

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): CollectConfig {
  const read = readEnv(env);
  const streamArn = read.required(
    "STREAM_ARN",
    "ARN of the ingest stream (the ingest stack's KinesisStreamArn)",
  );
  if (streamArn !== "" && !STREAM_ARN.test(streamArn)) {
    read.problem(
      "STREAM_ARN",
      `is "${streamArn}": set it to a Kinesis stream ARN, arn:aws:kinesis:<region>:<account>:stream/<name>`,
    );
  }
  const writeKeyParameter = read.required(
    "WRITE_KEY_PARAMETER",
    "name of the SSM SecureString parameter holding the write key, e.g. /pia/prod/collect-write-key",
  );
  if (writeKeyParameter !== "" && !PARAMETER_NAME.test(writeKeyParameter)) {
    read.problem(
      "WRITE_KEY_PARAMETER",
      `is "${writeKeyParameter}": set it to an SSM parameter name starting with / (letters, digits, _ . - /), not an ARN`,
    );
  }
  const cacheSeconds = read.wholeNumber(
    "WRITE_KEY_CACHE_SECONDS",
    DEFAULT_WRITE_KEY_CACHE_SECONDS,
    0,
    900,
    "seconds",
  );
  const putBudgetMs = read.wholeNumber("PUT_BUDGET_MS", DEFAULT_PUT_BUDGET_MS, 100, 20_000, "milliseconds");
  read.done("collect");
  return { streamArn, writeKeyParameter, writeKeyTtlMs: cacheSeconds * 1000, putBudgetMs };
}
