import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/pia-dev-pinpoint-events";

describe("loadConfig", () => {
  it("reads the stream, the write key's parameter and the defaults", () => {
    expect(loadConfig({ STREAM_ARN: STREAM, WRITE_KEY_PARAMETER: "/pia/dev/collect-write-key" })).toEqual({
      streamArn: STREAM,
      writeKeyParameter: "/pia/dev/collect-write-key",
      writeKeyTtlMs: 60_000,
      putBudgetMs: 3000,
    });
  });

  it("names every problem at once", () => {
    let error: unknown;
    try {
      loadConfig({
        STREAM_ARN: "pia-dev-pinpoint-events",
        WRITE_KEY_PARAMETER: "arn:aws:ssm:x",
        PUT_BUDGET_MS: "50",
      });
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual([
      "STREAM_ARN",
      "WRITE_KEY_PARAMETER",
      "PUT_BUDGET_MS",
    ]);
    expect(() => loadConfig({})).toThrow(/STREAM_ARN is not set.*WRITE_KEY_PARAMETER is not set/);
  });
});
