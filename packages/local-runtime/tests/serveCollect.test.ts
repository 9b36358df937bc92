import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RulesUi, serialize, serveRulesUi } from "../src/index.js";

// The collection endpoint needs no table: a stack that is never reached will do.
const STACK = {
  region: "us-east-1",
  credentials: { accessKeyId: "x", secretAccessKey: "x" },
  dynamoEndpoint: "http://127.0.0.1:9",
  tableNames: { rules: "rules", events: "events" },
} as unknown as Parameters<typeof serveRulesUi>[0]["stack"];

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`;
const call = (userId: string) => ({
  type: "track",
  event: "pageview",
  userId,
  timestamp: "2021-01-01T00:00:00Z",
});

let ui: RulesUi;
const put: string[][] = [];
beforeAll(async () => {
  ui = await serveRulesUi({
    stack: STACK,
    port: 0,
    collect: {
      writeKey: "local-key",
      put: async (lines) => {
        put.push([...lines]);
      },
    },
  });
});
afterAll(() => ui.close());

const post = (path: string, body: unknown, key = "local-key") =>
  fetch(new URL(path, ui.url), {
    method: "POST",
    headers: { authorization: basic(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("the local collection endpoint", () => {
  it("answers 401 to another write key and puts nothing", async () => {
    const response = await post("v1/batch", { batch: [call("u1")] }, "other-key");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toMatch(/^Basic/);
    expect(put).toEqual([]);
  });

  it("answers 400 to a malformed call, as the Lambda does, and puts nothing", async () => {
    const response = await post("v1/batch", { batch: [call("u1"), { type: "track", userId: "u2" }] });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ problems: [{ call: "batch[1]" }] });
    expect(put).toEqual([]);
  });

  it("puts each call as one line, with receivedAt, and answers 200 once they are put", async () => {
    const response = await post("v1/batch", { batch: [call("u1"), call("u2")] });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ success: true });
    expect(put).toHaveLength(1);
    expect(put[0]?.map((line) => JSON.parse(line))).toEqual([
      { ...call("u1"), receivedAt: expect.any(String) },
      { ...call("u2"), receivedAt: expect.any(String) },
    ]);
    expect((await post("v1/track", { event: "pageview", userId: "u3" })).status).toBe(200);
    expect(put).toHaveLength(2);
  });
});

describe("serialize", () => {
  it("runs tasks one at a time, in order, and goes on after a failure", async () => {
    const inTurn = serialize();
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) =>
      inTurn(async () => {
        log.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a", 20), task("b", 1, true), task("c", 5)]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});
