import { execFile } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { NotificationMessage } from "@pia/aws";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildWebhookSink, type WebhookSinkConfig } from "../src/sinks/webhookSink.js";
import { EXIT, message } from "./fixtures.js";

const SECRET = "whsec-test-0123456789";
/** 2024-03-15T10:30:00.123Z */
const NOW = Date.UTC(2024, 2, 15, 10, 30, 0, 123);

interface Hit {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
}

type Handler = (hit: Hit, res: ServerResponse) => void;

let dir: string;
let ca: Buffer;
let server: Server;
let url: string;
let hits: Hit[];
let handler: Handler;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-webhook-"));
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  await promisify(execFile)("/usr/bin/openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
  ]);
  ca = await readFile(cert);
  server = createServer(
    { key: await readFile(key), cert: ca },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const hit = {
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          method: req.method,
          path: req.url,
        };
        hits.push(hit);
        handler(hit, res);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/pia`;
}, 30_000);

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  hits = [];
  handler = (_hit, res) => res.writeHead(204).end();
});

function answer(status: number, headers: Record<string, string> = {}): (res: ServerResponse) => void {
  return (res) => res.writeHead(status, headers).end("{}");
}

function sink(overrides: Partial<WebhookSinkConfig> = {}) {
  const sleeps: number[] = [];
  const built = buildWebhookSink({
    url,
    secret: async () => SECRET,
    ca,
    now: () => NOW,
    random: () => 0.5,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
  return { sink: built, sleeps };
}

describe("buildWebhookSink", () => {
  it("posts the contract's fields plus id, signed with an HMAC of timestamp.body", async () => {
    const { sink: webhook } = sink();
    const results = await webhook.deliver([message("fire-1", "user-1")]);

    expect(webhook.name).toBe("webhook");
    expect(results).toEqual([{ id: "fire-1", status: "delivered" }]);
    expect(hits).toHaveLength(1);
    const [hit] = hits as [Hit];
    expect(hit.method).toBe("POST");
    expect(hit.path).toBe("/hooks/pia");
    expect(hit.headers["content-type"]).toBe("application/json");
    expect(hit.headers["x-pia-id"]).toBe("fire-1");
    expect(hit.headers["x-pia-timestamp"]).toBe(String(Math.floor(NOW / 1000)));
    expect(hit.body).toBe(
      '{"id":"fire-1","appId":"app-1","userId":"user-1","ruleId":"big-spender","type":"attribute","name":"big_spender","value":"Ready","at":"2021-01-31T23:59:59.999Z"}',
    );
    const expected = createHmac("sha256", SECRET)
      .update(`${hit.headers["x-pia-timestamp"]}.${hit.body}`)
      .digest("hex");
    expect(hit.headers["x-pia-signature"]).toBe(`sha256=${expected}`);
    // The signature depends on the secret.
    const other = createHmac("sha256", "another")
      .update(`${hit.headers["x-pia-timestamp"]}.${hit.body}`)
      .digest("hex");
    expect(hit.headers["x-pia-signature"]).not.toBe(`sha256=${other}`);
  });

  it("sends an event without a value", async () => {
    const event: NotificationMessage = {
      id: "fire-e",
      notification: {
        appId: "",
        userId: "user-2",
        ruleId: "viewer",
        type: "event",
        name: "trk_viewer",
        at: "2024-03-15T10:30:00.123Z",
      },
    };
    const { sink: webhook } = sink();
    expect(await webhook.deliver([event])).toEqual([{ id: "fire-e", status: "delivered" }]);
    expect(JSON.parse((hits[0] as Hit).body)).toEqual({
      id: "fire-e",
      appId: "",
      userId: "user-2",
      ruleId: "viewer",
      type: "event",
      name: "trk_viewer",
      at: "2024-03-15T10:30:00.123Z",
    });
  });

  it('passes an exit through: value "" and seq with the rest', async () => {
    const { sink: webhook } = sink();

    expect(await webhook.deliver([EXIT])).toEqual([{ id: "fire-x", status: "delivered" }]);
    expect((hits[0] as Hit).body).toBe(
      '{"id":"fire-x","appId":"app-1","userId":"user-3","ruleId":"active","type":"attribute","name":"active","value":"","at":"2024-03-15T10:30:00.123Z","seq":2}',
    );
  });

  it("retries 503 twice then delivers on 200, with full-jitter backoff", async () => {
    const statuses = [503, 503, 200];
    handler = (_hit, res) => answer(statuses.shift() ?? 500)(res);
    const { sink: webhook, sleeps } = sink({ maxAttempts: 5, baseDelayMs: 100 });

    expect(await webhook.deliver([message("fire-1")])).toEqual([{ id: "fire-1", status: "delivered" }]);
    expect(hits).toHaveLength(3);
    expect(new Set(hits.map((hit) => hit.headers["x-pia-id"]))).toEqual(new Set(["fire-1"]));
    // random 0.5 of caps 100 then 200.
    expect(sleeps).toEqual([50, 100]);
  });

  it("answers permanent after one hit on a 400", async () => {
    handler = (_hit, res) => answer(400)(res);
    const { sink: webhook, sleeps } = sink();

    expect(await webhook.deliver([message("fire-1")])).toEqual([
      { id: "fire-1", status: "permanent", error: "the webhook answered 400" },
    ]);
    expect(hits).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("answers retry after maxAttempts 5xx/429, honouring Retry-After up to maxDelayMs", async () => {
    const answers = [answer(429, { "retry-after": "2" }), answer(503, { "retry-after": "120" }), answer(500)];
    handler = (_hit, res) => (answers.shift() ?? answer(500))(res);
    const { sink: webhook, sleeps } = sink({ maxAttempts: 3, maxDelayMs: 10_000 });

    expect(await webhook.deliver([message("fire-1")])).toEqual([
      { id: "fire-1", status: "retry", error: "the webhook answered 500 (3 attempts)" },
    ]);
    expect(hits).toHaveLength(3);
    expect(sleeps).toEqual([2000, 10_000]);
  });

  it("answers retry when the receiver does not answer in time", async () => {
    handler = () => {
      // Never answers.
    };
    const { sink: webhook } = sink({ timeoutMs: 200, maxAttempts: 2 });

    expect(await webhook.deliver([message("fire-1")])).toEqual([
      { id: "fire-1", status: "retry", error: "the webhook timed out after 200 ms (2 attempts)" },
    ]);
    expect(hits).toHaveLength(2);
  });

  it("answers retry when the certificate is not trusted", async () => {
    const webhook = buildWebhookSink({ url, secret: async () => SECRET, maxAttempts: 1 });
    const [result] = await webhook.deliver([message("fire-1")]);
    expect(result).toMatchObject({ id: "fire-1", status: "retry" });
    expect(result?.status === "retry" && result.error).toMatch(
      /^the webhook request failed \(.*CERT.*\) \(1 attempts\)$/,
    );
    expect(hits).toHaveLength(0);
  });

  it("delivers a batch four at a time, one result per id", async () => {
    let inFlight = 0;
    let most = 0;
    handler = (_hit, res) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(hits.length % 2 === 0 ? 200 : 202).end();
      }, 30);
    };
    const batch = Array.from({ length: 10 }, (_, i) => message(`fire-${i}`));
    const { sink: webhook } = sink();

    const results = await webhook.deliver(batch);
    expect(results.map(({ id }) => id).sort()).toEqual(batch.map(({ id }) => id).sort());
    expect(results.every(({ status }) => status === "delivered")).toBe(true);
    expect(hits).toHaveLength(10);
    expect(most).toBe(4);
  });

  it("throws (retry of the batch) when the secret cannot be read, sending nothing", async () => {
    const { sink: webhook } = sink({
      secret: () => Promise.reject(new Error('webhook secret: SSM parameter "/pia/webhook" does not exist')),
    });
    await expect(webhook.deliver([message("fire-1")])).rejects.toThrow(/does not exist/);
    expect(hits).toHaveLength(0);
  });

  it.each([
    ["CR/LF (header injection)", "fire-1\r\nx-injected: yes"],
    ["a lone LF", "fire-1\nx"],
    ["a NUL", "fire-1\u0000"],
    ["a space", "fire 1"],
    ["a tab", "fire\t1"],
    ["DEL", "fire-1\u007f"],
    ["non-ASCII (Latin-1)", "fire-\u00e9"],
    ["a character Latin-1 would turn into LF", "fire-\u010a"],
  ])(
    "refuses for good, without a request, an id with %s; the rest of the batch is delivered",
    async (_what, id) => {
      const { sink: webhook } = sink();
      const results = await webhook.deliver([{ ...message("x"), id }, message("fire-ok")]);

      expect(results).toHaveLength(2);
      expect(results).toContainEqual({ id: "fire-ok", status: "delivered" });
      expect(results).toContainEqual({
        id,
        status: "permanent",
        error: expect.stringMatching(/^the notification id has a character an HTTP header cannot carry/),
      });
      expect(hits.map((hit) => hit.headers["x-pia-id"])).toEqual(["fire-ok"]);
      expect(hits.some((hit) => "x-injected" in hit.headers)).toBe(false);
    },
  );

  it("starts no request that could not end before the deadline, and hands the messages back", async () => {
    const { sink: webhook } = sink({ timeoutMs: 5000 });
    const results = await webhook.deliver([message("fire-1"), message("fire-2")], { deadline: NOW + 4999 });

    expect(hits).toHaveLength(0);
    expect(results).toEqual(
      ["fire-1", "fire-2"].map((id) => ({
        id,
        status: "retry",
        deferred: true,
        error: "the webhook was not called: a request could not end before the invocation's time runs out",
      })),
    );
  });

  it("stops retrying when the next attempt (backoff included) could not end before the deadline", async () => {
    // A fake clock: each request takes 3 s of it, and sleeping moves it on.
    let clock = NOW;
    handler = (_hit, res) => {
      clock += 3000;
      answer(503)(res);
    };
    const sleeps: number[] = [];
    const { sink: webhook } = sink({
      timeoutMs: 5000,
      maxAttempts: 3,
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });

    // Worst case without a deadline: 3 attempts x 5 s plus backoff, longer than the 10 s function.
    const results = await webhook.deliver([message("fire-1")], { deadline: NOW + 11_000 });

    // Attempt 1 ends at +3 s, attempt 2 (after 100 ms) at +6.1 s; a third, after 200 ms, could run
    // until +11.3 s: it is not started.
    expect(hits).toHaveLength(2);
    expect(sleeps).toEqual([100]);
    expect(results).toEqual([
      {
        id: "fire-1",
        status: "retry",
        deferred: true,
        error: "the webhook answered 503 (2 attempts; no time left in this invocation for another)",
      },
    ]);
  });

  it("refuses an http:// url when it is built", () => {
    expect(() => buildWebhookSink({ url: "http://127.0.0.1:8080/hook", secret: async () => SECRET })).toThrow(
      /webhook sink: url must use https:\/\/ \(got http:\/\/\)/,
    );
    expect(() => buildWebhookSink({ url: "not a url", secret: async () => SECRET })).toThrow(
      /not a valid URL/,
    );
  });
});
