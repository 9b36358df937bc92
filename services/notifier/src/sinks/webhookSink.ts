import { createHmac } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { Agent, request } from "node:https";
import type { NotificationMessage } from "@pia/aws";
import type { DeliverOptions, DeliveryResult, Now, Sink } from "../ports.js";

/** Requests in flight at the same time, per batch. */
export const WEBHOOK_CONCURRENCY = 4;

export interface WebhookSinkConfig {
  /** The receiver; `https://` only (checked when the sink is built). */
  readonly url: string;
  /** The signing secret (`buildSecretSource`); read once per batch. */
  readonly secret: () => Promise<string>;
  /** Longest time for one request, connection to end of response, ms (default 5000). */
  readonly timeoutMs?: number;
  /** Requests per notification, the first included (default 3). */
  readonly maxAttempts?: number;
  /** Backoff cap of the first retry, ms; it doubles each retry (default 200). */
  readonly baseDelayMs?: number;
  /** Largest wait between two attempts, ms, for the backoff and for `Retry-After` (default 5000). */
  readonly maxDelayMs?: number;
  /** Waits `ms` (tests inject a fake). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A number in [0, 1) for the jitter (tests inject a fixed one). */
  readonly random?: () => number;
  /** The clock, for `x-pia-timestamp` and `Retry-After` dates. */
  readonly now?: Now;
  /** An extra trusted CA, PEM (tests trust their self-signed certificate with it). */
  readonly ca?: string | Buffer;
}

/** What one request came to. */
type Attempt =
  | { readonly kind: "status"; readonly status: number; readonly retryAfterMs: number | undefined }
  | { readonly kind: "failed"; readonly reason: string };

function sleepFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function positive(name: string, value: number, integer: boolean): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new RangeError(`webhook sink: ${name} ${value} is not a ${integer ? "whole " : ""}number > 0`);
  }
  return value;
}

function checkUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error("webhook sink: url is not a valid URL");
  }
  // The protocol only: the URL itself may carry a token.
  if (parsed.protocol !== "https:") {
    throw new Error(
      `webhook sink: url must use https:// (got ${parsed.protocol}//); notifications and signatures are not sent in clear`,
    );
  }
  return parsed;
}

/**
 * The request body: exactly the contract's fields (docs/rules.md section 5) after the message `id`,
 * `value: ""` (a rolling window's exit: remove the attribute) and `seq` (rolling rules) included.
 * Other fields of the notification (`endpointId`) are not sent.
 */
export function webhookBody({ id, notification }: NotificationMessage): string {
  const { appId, userId, ruleId, type, name, value, at, seq } = notification;
  return JSON.stringify({ id, appId, userId, ruleId, type, name, value, at, seq });
}

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

/** `Retry-After` as ms from `now`: delta seconds or an HTTP date; `undefined` when absent or invalid. */
function retryAfterMs(headers: IncomingHttpHeaders, now: number): number | undefined {
  const value = headers["retry-after"]?.trim();
  if (value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Visible ASCII only: the id travels in the `x-pia-id` header, where CR/LF would split the request
 * (header injection), other control characters and spaces are refused or trimmed by HTTP stacks,
 * and non-ASCII text is re-encoded (Node sends Latin-1): the receiver would not see the same key.
 */
const HEADER_SAFE_ID = /^[\x21-\x7e]+$/;

/** Why `id` cannot be sent as a header value, or `undefined` when it can. */
export function invalidHeaderId(id: string): string | undefined {
  if (HEADER_SAFE_ID.test(id)) return undefined;
  return "the notification id has a character an HTTP header cannot carry as it is (a control character such as CR or LF, a space, or non-ASCII); the webhook sends it as x-pia-id, so the decider must make ids of visible ASCII";
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? error.name;
}

/**
 * Delivers each notification with one HTTPS POST to `url`.
 *
 * Request: the body is `webhookBody` (JSON: `id` then the contract's fields), with the headers
 * `content-type: application/json`, `x-pia-id: <id>` (the same on every retry and redelivery: the
 * receiver's idempotency key), `x-pia-timestamp: <unix seconds of this attempt>` and
 * `x-pia-signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` keyed with the secret.
 *
 * How a receiver verifies a request:
 * 1. Read the raw body bytes, before any JSON parsing (a re-serialised body does not match).
 * 2. Reject when `x-pia-timestamp` is not an integer or is more than 5 minutes from the receiver's
 *    clock (either way): a captured request cannot be replayed later.
 * 3. Compute `"sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + rawBody))` and compare it with
 *    `x-pia-signature` in constant time (`crypto.timingSafeEqual` on equal-length buffers); reject
 *    on a mismatch. While rotating, accept either the old or the new secret.
 * 4. Deduplicate on `x-pia-id` (equal to the body's `id`): delivery is at least once.
 *
 * Answers: 2xx is `delivered`. 429, 5xx, a timeout (`timeoutMs` for the whole request) or a
 * connection/TLS failure is retried within the call, at most `maxAttempts` requests, after
 * exponential backoff with full jitter, or after `Retry-After` when the receiver sends one (capped
 * at `maxDelayMs`); when all fail the notification is `retry` (the queue brings it back). Any other
 * status (other 4xx, 3xx: redirects are not followed) is `permanent`. Up to `WEBHOOK_CONCURRENCY`
 * requests run at the same time. Errors name the status or failure, never the URL, ids or values.
 * A failure to read the secret throws (the whole batch is retried).
 *
 * An id that is not visible ASCII is `permanent` without a request (`invalidHeaderId`). With a
 * `deadline`, no attempt starts that could not end (`timeoutMs`) by then, and no backoff is waited
 * that would leave no time for the attempt after it: what is left is `retry` with `deferred`, so
 * the invocation answers in time and the queue brings it back.
 */
export function buildWebhookSink(config: WebhookSinkConfig): Sink {
  const url = checkUrl(config.url);
  const timeoutMs = positive("timeoutMs", config.timeoutMs ?? 5000, false);
  const maxAttempts = positive("maxAttempts", config.maxAttempts ?? 3, true);
  const baseDelayMs = positive("baseDelayMs", config.baseDelayMs ?? 200, false);
  const maxDelayMs = positive("maxDelayMs", config.maxDelayMs ?? 5000, false);
  const sleep = config.sleep ?? sleepFor;
  const random = config.random ?? Math.random;
  const now = config.now ?? Date.now;
  // Kept-alive connections, shared by the requests of every batch (a Lambda container reuses them).
  const agent = new Agent({
    keepAlive: true,
    maxSockets: WEBHOOK_CONCURRENCY,
    ...(config.ca === undefined ? {} : { ca: config.ca }),
  });

  function post(body: string, id: string, secret: string): Promise<Attempt> {
    const timestamp = Math.floor(now() / 1000);
    return new Promise((resolve) => {
      let settled = false;
      const settle = (attempt: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(attempt);
      };
      const req = request(url, {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body, "utf8"),
          "x-pia-id": id,
          "x-pia-timestamp": String(timestamp),
          "x-pia-signature": webhookSignature(secret, timestamp, body),
        },
      });
      const timer = setTimeout(() => {
        settle({ kind: "failed", reason: `timed out after ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      req.on("response", (res) => {
        const status = res.statusCode ?? 0;
        const wait = retryAfterMs(res.headers, now());
        // The body is not used; it is read to the end so that the connection can be reused.
        res.resume();
        res.on("end", () => settle({ kind: "status", status, retryAfterMs: wait }));
        res.on("error", (error) =>
          settle({ kind: "failed", reason: `response failed (${describeError(error)})` }),
        );
        // A response cut short ends with `close` but no `end`.
        res.on("close", () =>
          settle(
            res.complete
              ? { kind: "status", status, retryAfterMs: wait }
              : { kind: "failed", reason: "response was cut short" },
          ),
        );
      });
      req.on("error", (error) =>
        settle({ kind: "failed", reason: `request failed (${describeError(error)})` }),
      );
      req.end(body, "utf8");
    });
  }

  async function deliverOne(
    message: NotificationMessage,
    secret: string,
    deadline: number,
  ): Promise<DeliveryResult> {
    const { id } = message;
    const badId = invalidHeaderId(id);
    if (badId !== undefined) return { id, status: "permanent", error: badId };
    const body = webhookBody(message);
    let reason = "";
    for (let attempt = 1; ; attempt += 1) {
      if (now() + timeoutMs > deadline) return outOfTime(id, reason, attempt - 1);
      const outcome = await post(body, id, secret);
      let retryAfter: number | undefined;
      if (outcome.kind === "status") {
        const { status } = outcome;
        if (status >= 200 && status < 300) return { id, status: "delivered" };
        if (status !== 429 && status < 500) {
          return { id, status: "permanent", error: `the webhook answered ${status}` };
        }
        reason = `the webhook answered ${status}`;
        retryAfter = outcome.retryAfterMs;
      } else {
        reason = `the webhook ${outcome.reason}`;
      }
      if (attempt >= maxAttempts) {
        return { id, status: "retry", error: `${reason} (${attempt} attempts)` };
      }
      const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      const wait = retryAfter === undefined ? Math.floor(random() * cap) : Math.min(retryAfter, maxDelayMs);
      if (now() + wait + timeoutMs > deadline) return outOfTime(id, reason, attempt);
      await sleep(wait);
    }
  }

  function outOfTime(id: string, reason: string, attempts: number): DeliveryResult {
    const error =
      attempts === 0
        ? "the webhook was not called: a request could not end before the invocation's time runs out"
        : `${reason} (${attempts} attempts; no time left in this invocation for another)`;
    return { id, status: "retry", error, deferred: true };
  }

  return {
    name: "webhook",
    async deliver(batch, options: DeliverOptions = {}) {
      if (batch.length === 0) return [];
      const deadline = options.deadline ?? Number.POSITIVE_INFINITY;
      const secret = await config.secret();
      const results: DeliveryResult[] = [];
      let next = 0;
      const worker = async () => {
        while (next < batch.length) {
          const message = batch[next] as NotificationMessage;
          next += 1;
          results.push(await deliverOne(message, secret, deadline));
        }
      };
      await Promise.all(Array.from({ length: Math.min(WEBHOOK_CONCURRENCY, batch.length) }, worker));
      return results;
    },
  };
}
