import {
  type EventsBatch,
  GetUserEndpointsCommand,
  type PinpointClient,
  PutEventsCommand,
  type PutEventsResponse,
  UpdateEndpointCommand,
} from "@aws-sdk/client-pinpoint";
import { mapLimited, type NotificationMessage } from "@pia/aws";
import type { DeliveryResult, Now, Sink } from "../ports.js";

/** Events per PutEvents request (a Pinpoint quota). */
export const PUT_EVENTS_LIMIT = 100;
/**
 * Pinpoint's request quotas, per second, shared by the whole account in a region: UpdateEndpoint
 * 5,000 and PutEvents 7,000 (HTTP 429 above them).
 */
export const PINPOINT_QUOTAS = { updateEndpoint: 5_000, putEvents: 7_000 } as const;
/**
 * Default requests per second of one sink (one Lambda container), per app. The notifier's queue
 * mapping runs at most 10 containers (`maximumConcurrency` in serverless.yml), so the function
 * makes at most 500 requests/s: a tenth of the lower quota, as the quota is shared with every
 * other user of Pinpoint in the account and region. Raise both only with a quota increase.
 */
export const DEFAULT_PINPOINT_REQUESTS_PER_SECOND = 50;
/** Longest user attribute name and event type Pinpoint accepts, in characters. */
export const MAX_ATTRIBUTE_NAME_CHARS = 50;
/** Longest user attribute value Pinpoint accepts, in characters. */
export const MAX_ATTRIBUTE_VALUE_CHARS = 100;

export interface PinpointSinkConfig {
  /** The Pinpoint project to write to; default: each notification's `appId`. */
  readonly applicationId?: string;
  /**
   * Client-side limit of requests per second, per app (a token bucket), for every request
   * (UpdateEndpoint, PutEvents, GetUserEndpoints); default `DEFAULT_PINPOINT_REQUESTS_PER_SECOND`.
   */
  readonly maxRequestsPerSecond?: number;
  /** Retries of one throttled / failed (5xx) request inside a `deliver` call; default 3. */
  readonly maxRetries?: number;
  /** Backoff base and cap (full jitter: random() * min(cap, base * 2^attempt)); default 100 / 5000. */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Requests in flight at once within a `deliver` call; default 10. */
  readonly concurrency?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1), as Math.random. */
  readonly random?: () => number;
  readonly now?: Now;
}

type Failure = { readonly ok: false; readonly status: "retry" | "permanent"; readonly error: string };
type Outcome<T> = { readonly ok: true; readonly value: T } | Failure;

function characters(text: string): number {
  return [...text].length;
}

const RETRYABLE_NAMES = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "InternalServerErrorException",
  "ServiceUnavailableException",
  "RequestTimeout",
  "TimeoutError",
]);

/**
 * Whether a failed request may succeed later, and a description without the error's message (it
 * can quote endpoint or user ids).
 */
function classify(operation: string, error: unknown): Failure {
  const name = error instanceof Error ? error.name : typeof error;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const what = `Pinpoint ${operation} failed: ${name}${status === undefined ? "" : ` (HTTP ${status})`}`;
  if (status === 429 || (status !== undefined && status >= 500) || RETRYABLE_NAMES.has(name)) {
    return { ok: false, status: "retry", error: what };
  }
  // Other 4xx (BadRequest, NotFound, Forbidden, PayloadTooLarge...) fail the same way every time.
  if (status !== undefined && status >= 400) return { ok: false, status: "permanent", error: what };
  // No HTTP answer (a network error, a timeout): transient.
  return { ok: false, status: "retry", error: what };
}

function itemStatus(code: number): "delivered" | "retry" | "permanent" {
  if (code === 202 || code === 200) return "delivered";
  if (code === 429 || code >= 500) return "retry";
  return "permanent";
}

/** A token bucket per app: `rate` requests per second, bursts of `rate`. */
function rateLimiter(rate: number, now: Now, sleep: (ms: number) => Promise<void>) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (appId: string): Promise<void> => {
    const time = now();
    const bucket = buckets.get(appId) ?? { tokens: rate, at: time };
    bucket.tokens = Math.min(rate, bucket.tokens + (Math.max(0, time - bucket.at) * rate) / 1000);
    bucket.at = time;
    // Reserve the token now (the bucket may go negative) and wait for it: callers are served in order.
    bucket.tokens -= 1;
    buckets.set(appId, bucket);
    if (bucket.tokens < 0) await sleep((-bucket.tokens * 1000) / rate);
  };
}

interface Pending {
  readonly id: string;
  readonly appId: string;
  readonly message: NotificationMessage;
}

/**
 * Applies notifications to Amazon Pinpoint. An `attribute` notification sets one user attribute
 * with UpdateEndpoint carrying only `User{UserId, UserAttributes}` (Pinpoint copies user attributes
 * to every endpoint of the user; nothing else of the endpoint is overwritten); `value: ""` (a rolling
 * window's exit) sends the attribute with no values (`[]`), which removes it, instead of `[""]`. An `event`
 * notification becomes one event of PutEvents (up to 100 per request, per app) whose `Endpoint` is
 * empty: no ChannelType or OptOut, so a user's opt-out is never touched. The endpoint is the
 * notification's `endpointId`, else one found with GetUserEndpoints.
 *
 * Every request waits for the app's token bucket; a throttled (429) or failed (5xx, network)
 * request is retried with full-jitter backoff, then answered `retry`. Other 4xx, a user without
 * endpoints, and names or values over Pinpoint's limits answer `permanent`. PutEvents answers per
 * event: 202 delivered, 429/5xx retry, other codes permanent.
 */
export function buildPinpointSink(client: PinpointClient, config: PinpointSinkConfig = {}): Sink {
  const now = config.now ?? Date.now;
  const sleep =
    config.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms))));
  const random = config.random ?? Math.random;
  const maxRetries = config.maxRetries ?? 3;
  const baseDelayMs = config.baseDelayMs ?? 100;
  const maxDelayMs = config.maxDelayMs ?? 5000;
  const concurrency = config.concurrency ?? 10;
  const rate = config.maxRequestsPerSecond ?? DEFAULT_PINPOINT_REQUESTS_PER_SECOND;
  if (!(rate > 0)) throw new RangeError("maxRequestsPerSecond must be > 0");
  const acquire = rateLimiter(rate, now, sleep);

  async function call<T>(appId: string, operation: string, send: () => Promise<T>): Promise<Outcome<T>> {
    for (let attempt = 0; ; attempt++) {
      await acquire(appId);
      try {
        return { ok: true, value: await send() };
      } catch (error: unknown) {
        const failure = classify(operation, error);
        if (failure.status === "permanent" || attempt >= maxRetries) return failure;
        await sleep(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
      }
    }
  }

  function endpointFinder() {
    // One lookup per user and app within a `deliver` call.
    const lookups = new Map<string, Promise<Outcome<string>>>();
    const lookUp = async (appId: string, userId: string): Promise<Outcome<string>> => {
      const answer = await call(appId, "GetUserEndpoints", () =>
        client.send(new GetUserEndpointsCommand({ ApplicationId: appId, UserId: userId })),
      );
      const none: Failure = {
        ok: false,
        status: "permanent",
        error: "the user has no endpoint in the Pinpoint app (GetUserEndpoints found none)",
      };
      if (!answer.ok) return answer.error.includes("NotFoundException") ? none : answer;
      const endpoints = (answer.value.EndpointsResponse?.Item ?? []).filter(({ Id }) => Id !== undefined);
      const chosen = endpoints.find(({ EndpointStatus }) => EndpointStatus === "ACTIVE") ?? endpoints[0];
      return chosen?.Id === undefined ? none : { ok: true, value: chosen.Id };
    };
    return (appId: string, message: NotificationMessage): Promise<Outcome<string>> => {
      const { endpointId, userId } = message.notification;
      if (endpointId !== undefined) return Promise.resolve({ ok: true, value: endpointId });
      const key = `${appId}\u0000${userId}`;
      let lookup = lookups.get(key);
      if (lookup === undefined) {
        lookup = lookUp(appId, userId);
        lookups.set(key, lookup);
      }
      return lookup;
    };
  }

  function invalid(message: NotificationMessage): string | undefined {
    const { type, name, value } = message.notification;
    const nameChars = characters(name);
    if (nameChars > MAX_ATTRIBUTE_NAME_CHARS) {
      const what = type === "attribute" ? "attribute name" : "event type";
      return `the ${what} is ${nameChars} characters, over Pinpoint's ${MAX_ATTRIBUTE_NAME_CHARS}`;
    }
    if (type === "attribute") {
      if (value === undefined) return "the attribute notification has no value";
      const valueChars = characters(value);
      if (valueChars > MAX_ATTRIBUTE_VALUE_CHARS) {
        return `the attribute value is ${valueChars} characters, over Pinpoint's ${MAX_ATTRIBUTE_VALUE_CHARS}`;
      }
    }
    return undefined;
  }

  async function deliver(batch: readonly NotificationMessage[]): Promise<DeliveryResult[]> {
    const results = new Map<string, DeliveryResult>();
    const settle = (id: string, outcome: "delivered" | Failure): void => {
      results.set(
        id,
        outcome === "delivered"
          ? { id, status: "delivered" }
          : { id, status: outcome.status, error: outcome.error },
      );
    };
    const attributes: Pending[] = [];
    const events = new Map<string, Pending[]>();
    const seen = new Set<string>();
    for (const message of batch) {
      if (seen.has(message.id)) continue;
      seen.add(message.id);
      const appId = config.applicationId ?? message.notification.appId;
      if (appId === "") {
        settle(message.id, {
          ok: false,
          status: "permanent",
          error: "no Pinpoint application id (the notification has no appId and none is configured)",
        });
        continue;
      }
      const reason = invalid(message);
      if (reason !== undefined) {
        settle(message.id, { ok: false, status: "permanent", error: reason });
        continue;
      }
      const pending = { id: message.id, appId, message };
      if (message.notification.type === "attribute") attributes.push(pending);
      else events.set(appId, [...(events.get(appId) ?? []), pending]);
    }

    const findEndpoint = endpointFinder();

    const updateAttribute = async ({ id, appId, message }: Pending): Promise<void> => {
      const { userId, name, value } = message.notification;
      const endpoint = await findEndpoint(appId, message);
      if (!endpoint.ok) return settle(id, endpoint);
      const answer = await call(appId, "UpdateEndpoint", () =>
        client.send(
          new UpdateEndpointCommand({
            ApplicationId: appId,
            EndpointId: endpoint.value,
            // An exit (`value: ""`) removes the attribute: Pinpoint drops an attribute whose values
            // are an empty list, where [""] would set it to the empty string.
            EndpointRequest: {
              User: {
                UserId: userId,
                UserAttributes: { [name]: value === "" || value === undefined ? [] : [value] },
              },
            },
          }),
        ),
      );
      settle(id, answer.ok ? "delivered" : answer);
    };

    // Events: resolve endpoints, then requests of up to PUT_EVENTS_LIMIT events per app.
    const chunks: Array<{ appId: string; items: Array<Pending & { endpointId: string }> }> = [];
    const located = new Map<string, Array<Pending & { endpointId: string }>>();
    await mapLimited([...events.values()].flat(), concurrency, async (pending) => {
      const endpoint = await findEndpoint(pending.appId, pending.message);
      if (!endpoint.ok) return settle(pending.id, endpoint);
      located.set(pending.appId, [
        ...(located.get(pending.appId) ?? []),
        { ...pending, endpointId: endpoint.value },
      ]);
    });
    for (const [appId, items] of located) {
      for (let start = 0; start < items.length; start += PUT_EVENTS_LIMIT) {
        chunks.push({ appId, items: items.slice(start, start + PUT_EVENTS_LIMIT) });
      }
    }

    const putEvents = async ({ appId, items }: (typeof chunks)[number]): Promise<void> => {
      const batchItem: Record<string, EventsBatch> = {};
      for (const { id, endpointId, message } of items) {
        const { name, at, ruleId } = message.notification;
        // `Endpoint` stays empty: a ChannelType or OptOut here would overwrite the endpoint's.
        const entry = batchItem[endpointId] ?? { Endpoint: {}, Events: {} };
        entry.Events = { ...entry.Events, [id]: { EventType: name, Timestamp: at, Attributes: { ruleId } } };
        batchItem[endpointId] = entry;
      }
      const answer = await call(appId, "PutEvents", () =>
        client.send(new PutEventsCommand({ ApplicationId: appId, EventsRequest: { BatchItem: batchItem } })),
      );
      if (!answer.ok) {
        for (const { id } of items) settle(id, answer);
        return;
      }
      for (const { id, endpointId } of items) settle(id, eventOutcome(answer.value, endpointId, id));
    };

    await mapLimited([...attributes, ...chunks], concurrency, (work) =>
      "items" in work ? putEvents(work) : updateAttribute(work),
    );

    return [...seen].map(
      (id) => results.get(id) ?? { id, status: "retry", error: "the Pinpoint sink reached no result" },
    );
  }

  return { name: "pinpoint", deliver };
}

/** What PutEvents answered for event `eventId` of endpoint `endpointId`. */
function eventOutcome(
  response: PutEventsResponse | undefined,
  endpointId: string,
  eventId: string,
): "delivered" | Failure {
  const item = response?.EventsResponse?.Results?.[endpointId];
  const event = item?.EventsItemResponse?.[eventId];
  const endpointCode = item?.EndpointItemResponse?.StatusCode;
  // Without an answer for the event, a refused endpoint item explains it; else nothing is known.
  const code =
    event?.StatusCode ??
    (endpointCode !== undefined && itemStatus(endpointCode) !== "delivered" ? endpointCode : undefined);
  if (code === undefined) {
    return { ok: false, status: "retry", error: "Pinpoint PutEvents returned no result for the event" };
  }
  const status = itemStatus(code);
  if (status === "delivered") return "delivered";
  const source = event?.StatusCode === undefined ? "the endpoint item" : "the event";
  return { ok: false, status, error: `Pinpoint PutEvents refused ${source}: status ${code}` };
}
