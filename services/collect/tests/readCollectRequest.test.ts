import { describe, expect, it } from "vitest";
import { CollectRequestError } from "../src/errors.js";
import { MAX_BATCH_BYTES, MAX_CALL_BYTES } from "../src/limits.js";
import { MAX_BATCH_RECORD_BYTES, readCollectRequest } from "../src/readCollectRequest.js";

const NOW = Date.parse("2026-12-06T10:00:00.000Z");
const bytes = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value));
const track = (extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "purchase",
  userId: "customer-1308",
  properties: { product: "chair", price: 189.9 },
  timestamp: "2021-03-14T16:06:29.734+02:00",
  messageId: "api-1",
  ...extra,
});

function refusal(run: () => unknown): CollectRequestError {
  try {
    run();
  } catch (error: unknown) {
    if (error instanceof CollectRequestError) return error;
    throw error;
  }
  throw new Error("expected a CollectRequestError");
}

describe("readCollectRequest", () => {
  it("puts a track call as it came, with receivedAt, partitioned by userId", () => {
    const [record, ...rest] = readCollectRequest("track", bytes(track()), NOW);
    expect(rest).toEqual([]);
    expect(record?.partitionKey).toBe("customer-1308");
    expect(JSON.parse(record?.data ?? "")).toEqual({ ...track(), receivedAt: "2026-12-06T10:00:00.000Z" });
  });

  it("takes a /v1/track call without type as a track call (Segment's examples leave it out), and overrides receivedAt", () => {
    const { type: _, ...call } = track({ receivedAt: "1999-01-01T00:00:00Z" });
    const [record] = readCollectRequest("track", bytes(call), NOW);
    expect(JSON.parse(record?.data ?? "")).toMatchObject({
      type: "track",
      receivedAt: "2026-12-06T10:00:00.000Z",
    });
  });

  it("makes no messageId up: a retried request must give the same record", () => {
    const { messageId: _, ...call } = track();
    const [record] = readCollectRequest("track", bytes(call), NOW);
    expect(JSON.parse(record?.data ?? "")).not.toHaveProperty("messageId");
  });

  it("partitions by anonymousId when there is no userId, and hashes ids over 256 characters", () => {
    const { userId: _, ...anonymous } = track({ anonymousId: "anon-7" });
    expect(readCollectRequest("track", bytes(anonymous), NOW)[0]?.partitionKey).toBe("anon-7");
    const long = readCollectRequest("track", bytes(track({ userId: "u".repeat(300) })), NOW)[0]?.partitionKey;
    expect(long).toMatch(/^[0-9a-f]{64}$/);
  });

  it("makes each call of a batch its own record, merging the batch's context, integrations and sentAt", () => {
    const body = {
      batch: [
        track({ messageId: "a", context: { app: { name: "shop" } } }),
        { type: "identify", userId: "u2", traits: { plan: "pro" } },
        track({ messageId: "c", userId: "u3", sentAt: "2021-03-14T14:06:00.000Z" }),
      ],
      context: { library: { name: "analytics-node" }, app: { name: "outer" } },
      integrations: { All: true },
      sentAt: "2021-03-14T14:06:31.002Z",
      writeKey: "ignored",
    };
    const records = readCollectRequest("batch", bytes(body), NOW);
    expect(records.map((r) => r.partitionKey)).toEqual(["customer-1308", "u2", "u3"]);
    const [first, second, third] = records.map((r) => JSON.parse(r.data));
    expect(first).toMatchObject({
      messageId: "a",
      context: { library: { name: "analytics-node" }, app: { name: "shop" } },
      integrations: { All: true },
      sentAt: "2021-03-14T14:06:31.002Z",
      receivedAt: "2026-12-06T10:00:00.000Z",
    });
    expect(first).not.toHaveProperty("writeKey");
    expect(second).toMatchObject({ type: "identify", traits: { plan: "pro" } });
    expect(third.sentAt).toBe("2021-03-14T14:06:00.000Z");
  });

  it("accepts an empty batch: nothing to put", () => {
    expect(readCollectRequest("batch", bytes({ batch: [] }), NOW)).toEqual([]);
  });

  it.each([
    ["not JSON", "track", "{nope", 400, /the body is not JSON/],
    ["empty", "track", "", 400, /no body/],
    ["not UTF-8", "track", Buffer.from([0x7b, 0xff, 0x7d]), 400, /not UTF-8/],
    ["an array", "track", "[]", 400, /not a JSON object: send one track call/],
    ["null", "batch", "null", 400, /not a JSON object/],
    ["a batch without a list", "batch", '{"batch":{}}', 400, /no "batch" list/],
  ] as const)("refuses a body that is %s", (_, route, body, status, message) => {
    const error = refusal(() =>
      readCollectRequest(route, typeof body === "string" ? bytes(body) : body, NOW),
    );
    expect(error.status).toBe(status);
    expect(error.message).toMatch(message);
  });

  it("refuses the whole batch when any call is malformed, listing each with its place and the fix", () => {
    const body = {
      batch: [
        track(),
        { event: "x", userId: "u" },
        track({ event: "" }),
        track({ userId: undefined }),
        "text",
        { type: "purchase", userId: "u" },
        track({ userId: 42 }),
      ],
    };
    const error = refusal(() => readCollectRequest("batch", bytes(body), NOW));
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^6 of 7 calls are malformed; nothing was accepted/);
    expect(error.problemCount).toBe(6);
    expect(error.problems).toEqual([
      { call: "batch[1]", problem: expect.stringMatching(/no "type"/) },
      { call: "batch[2]", problem: expect.stringMatching(/track call without "event"/) },
      { call: "batch[3]", problem: expect.stringMatching(/neither "userId" nor "anonymousId"/) },
      { call: "batch[4]", problem: expect.stringMatching(/not a JSON object/) },
      { call: "batch[5]", problem: expect.stringMatching(/not a Segment call/) },
      { call: "batch[6]", problem: expect.stringMatching(/neither "userId" nor "anonymousId"/) },
    ]);
  });

  it("lists at most 20 problems but counts them all", () => {
    const error = refusal(() => readCollectRequest("batch", bytes({ batch: Array(50).fill({}) }), NOW));
    expect(error.problems).toHaveLength(20);
    expect(error.problemCount).toBe(50);
  });

  it("refuses other call types on /v1/track", () => {
    const error = refusal(() => readCollectRequest("track", bytes({ type: "identify", userId: "u" }), NOW));
    expect(error.problems[0]).toMatchObject({ call: "call", problem: expect.stringMatching(/\/v1\/batch/) });
  });

  it("answers 413 naming Segment's limit: 32 KB a call, 500 KB a batch request", () => {
    const big = (size: number) => track({ properties: { text: "x".repeat(size) } });
    const call = refusal(() => readCollectRequest("track", bytes(big(MAX_CALL_BYTES)), NOW));
    expect(call.status).toBe(413);
    expect(call.message).toContain("32 KB (32768 bytes) a call");
    expect(readCollectRequest("track", bytes(big(MAX_CALL_BYTES - 400)), NOW)).toHaveLength(1);
    const batch = refusal(() =>
      readCollectRequest("batch", bytes({ batch: Array(20).fill(big(MAX_BATCH_BYTES / 20)) }), NOW),
    );
    expect(batch.status).toBe(413);
    expect(batch.message).toContain("500 KB (512000 bytes) a batch request");
    const oneInBatch = refusal(() =>
      readCollectRequest("batch", bytes({ batch: [track(), big(MAX_CALL_BYTES)] }), NOW),
    );
    expect(oneInBatch.status).toBe(413);
    expect(oneInBatch.message).toMatch(/^batch\[1\] is \d+ bytes, over Segment's limit of 32 KB/);
  });

  it("bounds what a batch's context merged into every call may come to", () => {
    const context = { padding: "x".repeat(30_000) };
    const calls = Array.from({ length: 40 }, (_, i) => ({ type: "track", event: "e", userId: `u${i}` }));
    const error = refusal(() => readCollectRequest("batch", bytes({ batch: calls, context }), NOW));
    expect(error.status).toBe(413);
    expect(error.message).toContain(`over ${MAX_BATCH_RECORD_BYTES / 1024} KB`);
  });

  it("refuses a call nested too deeply to serialize, as malformed", () => {
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    const body = `{"batch":[{"type":"track","event":"e","userId":"u","properties":{"d":${deep}}}]}`;
    const error = refusal(() => readCollectRequest("batch", bytes(body), NOW));
    expect(error.status).toBe(400);
    expect(error.message).toContain("nested too deeply");
  });
});
