import { Logger } from "@aws-lambda-powertools/logger";
import { lambdaContext } from "@pia/aws";
import { describe, expect, it } from "vitest";
import { buildCollectHandler } from "../src/buildCollectHandler.js";
import type { ApiEvent, ApiResult } from "../src/httpApi.js";
import type { PutRecords, StreamRecord } from "../src/ports.js";

const KEY = "wk_test";
const NOW = Date.parse("2026-12-06T10:00:00.000Z");
const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;

function event(path: string, body: unknown, headers: Record<string, string> = {}, method = "POST"): ApiEvent {
  return {
    version: "2.0",
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: "",
    headers: { authorization: basic(KEY), ...headers },
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.com",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.1", userAgent: "test" },
      requestId: "r",
      routeKey: `${method} ${path}`,
      stage: "$default",
      time: "",
      timeEpoch: NOW,
    },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  };
}

function setup(putRecords: PutRecords = async () => []) {
  const put: StreamRecord[][] = [];
  let keyReads = 0;
  const handler = buildCollectHandler({
    readWriteKeys: async () => {
      keyReads++;
      return [KEY];
    },
    putRecords: async (records) => {
      put.push([...records]);
      return putRecords(records);
    },
    putBudgetMs: 100,
    logger: new Logger({ logLevel: "SILENT" }),
    now: () => NOW,
    sleep: async () => {},
    random: () => 0.5,
  });
  const call = async (e: ApiEvent) => {
    const result = (await handler(e, lambdaContext("pia-collect"))) as ApiResult & { body: string };
    return { ...result, json: JSON.parse(result.body) as Record<string, unknown> };
  };
  return { call, put, keyReads: () => keyReads };
}

const trackCall = { type: "track", event: "purchase", userId: "u1", timestamp: "2021-01-05T00:00:00Z" };

describe("the collect handler", () => {
  it("answers 200 { success: true } once each call of a batch is on the stream, one record each", async () => {
    const { call, put } = setup();
    const result = await call(event("/v1/batch", { batch: [trackCall, { ...trackCall, userId: "u2" }] }));
    expect(result.statusCode).toBe(200);
    expect(result.json).toEqual({ success: true });
    expect(put.flat().map((r) => r.partitionKey)).toEqual(["u1", "u2"]);
    expect(JSON.parse(put[0]?.[0]?.data ?? "")).toMatchObject({
      ...trackCall,
      receivedAt: "2026-12-06T10:00:00.000Z",
    });
  });

  it("takes a track call on /v1/track, a base64 body too", async () => {
    const { call, put } = setup();
    const e = {
      ...event("/v1/track", undefined),
      body: Buffer.from(JSON.stringify(trackCall)).toString("base64"),
      isBase64Encoded: true,
    };
    expect((await call(e)).statusCode).toBe(200);
    expect(put.flat()).toHaveLength(1);
  });

  it.each([
    ["no Authorization", {}],
    ["another key", { authorization: basic("wk_other") }],
    ["a Bearer token", { authorization: "Bearer wk_test" }],
  ])("answers 401 with a Basic challenge to %s, and puts nothing", async (_, headers) => {
    const { call, put } = setup();
    const e = event("/v1/track", trackCall);
    const result = await call({ ...e, headers: { ...e.headers, authorization: "", ...headers } });
    expect(result.statusCode).toBe(401);
    expect(result.headers?.["www-authenticate"]).toMatch(/^Basic realm="pia"/);
    expect(result.json.message).toContain("Basic base64(<write key>:)");
    expect(put).toEqual([]);
  });

  it("answers 400 for a malformed batch, listing the calls, and puts none of it", async () => {
    const { call, put } = setup();
    const result = await call(event("/v1/batch", { batch: [trackCall, { type: "track", userId: "u" }] }));
    expect(result.statusCode).toBe(400);
    expect(result.json).toMatchObject({
      success: false,
      problemCount: 1,
      problems: [{ call: "batch[1]", problem: expect.stringContaining('without "event"') }],
    });
    expect(put).toEqual([]);
  });

  it("answers 413 over the limits and 415 for a compressed body", async () => {
    const { call } = setup();
    const big = { ...trackCall, properties: { text: "x".repeat(40_000) } };
    const tooBig = await call(event("/v1/track", big));
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json.message).toContain("32 KB (32768 bytes) a call");
    expect((await call(event("/v1/track", trackCall, { "content-encoding": "gzip" }))).statusCode).toBe(415);
  });

  it("answers 503 with Retry-After when calls are still not on the stream at the end of the budget", async () => {
    const { call, put } = setup(async (records) => records.slice(0, 1));
    const result = await call(event("/v1/batch", { batch: [trackCall, { ...trackCall, userId: "u2" }] }));
    expect(result.statusCode).toBe(503);
    expect(result.headers?.["retry-after"]).toBe("1");
    expect(result.json.message).toMatch(
      /^1 of 2 calls could not be put on the stream in time: send the request again/,
    );
    // Retried within the budget: the first request, then the one call left, again and again.
    expect(put.length).toBeGreaterThan(2);
    expect(put.slice(1).every((request) => request.length === 1)).toBe(true);
  });

  it("answers 404 elsewhere and 405 to other methods", async () => {
    const { call } = setup();
    expect((await call(event("/v1/identify", trackCall))).statusCode).toBe(404);
    const get = await call(event("/v1/batch", undefined, {}, "GET"));
    expect(get.statusCode).toBe(405);
    expect(get.headers?.allow).toBe("POST");
  });
});
