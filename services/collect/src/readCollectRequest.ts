import { createHash } from "node:crypto";
import { type CallProblem, CollectRequestError } from "./errors.js";
import { MAX_BATCH_BYTES, MAX_CALL_BYTES, MAX_LISTED_PROBLEMS, MAX_PARTITION_KEY_LENGTH } from "./limits.js";
import type { StreamRecord } from "./ports.js";

/** The two routes: one call (`POST /v1/track`) or a batch envelope (`POST /v1/batch`). */
export type CollectRoute = "track" | "batch";

/**
 * The Segment Spec call types a batch may hold. Only `track` calls are events; the others go on
 * the stream as well (ingest counts them as ignored), so the stream keeps what was sent.
 */
export const SEGMENT_CALL_TYPES: ReadonlySet<string> = new Set([
  "track",
  "identify",
  "page",
  "screen",
  "group",
  "alias",
]);

/**
 * The records a batch puts on the stream may come to this much in all: a batch-level `context`
 * is merged into every call, which must not turn a 500 KB request into hundreds of megabytes.
 */
export const MAX_BATCH_RECORD_BYTES = 2 * MAX_BATCH_BYTES;

const KB = (bytes: number) => `${bytes / 1024} KB (${bytes} bytes)`;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** What is wrong with a call's shape, or undefined; `route` says whether `type` may be left out. */
function callProblem(call: unknown, route: CollectRoute): string | undefined {
  if (!isObject(call)) return "is not a JSON object: send each call as an object";
  const type = route === "track" && call.type === undefined ? "track" : call.type;
  if (typeof type !== "string" || type === "") {
    return 'has no "type": set it to track (or identify, page, screen, group, alias)';
  }
  if (route === "track" && type !== "track") {
    return `has "type" ${JSON.stringify(type.slice(0, 40))}: /v1/track takes track calls; send other calls to /v1/batch`;
  }
  if (!SEGMENT_CALL_TYPES.has(type)) {
    return `has "type" ${JSON.stringify(type.slice(0, 40))}, which is not a Segment call: use track, identify, page, screen, group or alias`;
  }
  if (type === "track" && nonEmptyString(call.event) === undefined) {
    return 'is a track call without "event": set it to the event\'s name';
  }
  if (nonEmptyString(call.userId) === undefined && nonEmptyString(call.anonymousId) === undefined) {
    return 'has neither "userId" nor "anonymousId": set one of them (a non-empty string)';
  }
  return undefined;
}

/** The user a call is partitioned by (one shard keeps a user's calls in order); long ids hashed. */
function partitionKeyOf(call: Json): string {
  const user = nonEmptyString(call.userId) ?? nonEmptyString(call.anonymousId) ?? "";
  return user.length <= MAX_PARTITION_KEY_LENGTH ? user : createHash("sha256").update(user).digest("hex");
}

/** Segment merges a batch's `context` and `integrations` into each call (the call's own win). */
function mergeOf(outer: unknown, inner: unknown): unknown {
  if (!isObject(outer)) return inner;
  return isObject(inner) ? { ...outer, ...inner } : inner === undefined ? outer : inner;
}

function parseBody(body: Uint8Array, route: CollectRoute): unknown {
  const what = route === "track" ? "a track call" : 'a batch, { "batch": [calls] }';
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(body);
  } catch {
    throw new CollectRequestError(400, `the body is not UTF-8 text: send ${what} as JSON`);
  }
  if (text.trim() === "") throw new CollectRequestError(400, `the request has no body: send ${what} as JSON`);
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CollectRequestError(400, `the body is not JSON (${reason}): send ${what} as JSON`);
  }
}

/**
 * Reads a request of Segment's HTTP Tracking API into the records to put on the stream, one call
 * each, or throws `CollectRequestError` for the whole request (nothing is put when any call is
 * malformed: a 200 means every call is on the stream). Limits, all in linear time: the body
 * (32 KB a call, 500 KB a batch), each call as put (32 KB), all records of a batch (1,000 KB).
 * Each record is the call with `receivedAt` (the server's time, ISO 8601) and, from a batch, the
 * batch's `context`, `integrations` and `sentAt` merged in; `type` is `track` on /v1/track when
 * left out. No `messageId` is made up: a retried request would get another one, and ingest's
 * content hash (without `sentAt` and `receivedAt`) is the identity of a call without one.
 */
export function readCollectRequest(
  route: CollectRoute,
  body: Uint8Array,
  receivedAt: number,
): StreamRecord[] {
  const limit = route === "track" ? MAX_CALL_BYTES : MAX_BATCH_BYTES;
  if (body.byteLength > limit) {
    throw new CollectRequestError(
      413,
      `the request is ${body.byteLength} bytes, over Segment's limit of ${KB(limit)} ${route === "track" ? "a call" : "a batch request"}: send fewer calls a request`,
    );
  }
  const parsed = parseBody(body, route);
  if (!isObject(parsed)) {
    throw new CollectRequestError(
      400,
      route === "track"
        ? "the body is not a JSON object: send one track call"
        : 'the body is not a JSON object: send { "batch": [calls] }',
    );
  }
  let calls: readonly unknown[];
  let envelope: Json = {};
  if (route === "track") calls = [parsed];
  else {
    if (!Array.isArray(parsed.batch)) {
      throw new CollectRequestError(400, 'the body has no "batch" list: send { "batch": [calls] }');
    }
    calls = parsed.batch;
    envelope = parsed;
  }
  const label = (index: number) => (route === "track" ? "call" : `batch[${index}]`);

  const problems: CallProblem[] = [];
  let problemCount = 0;
  calls.forEach((call, index) => {
    const problem = callProblem(call, route);
    if (problem === undefined) return;
    problemCount++;
    if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ call: label(index), problem });
  });
  if (problemCount > 0) {
    throw new CollectRequestError(
      400,
      `${problemCount} of ${calls.length} calls ${problemCount === 1 ? "is" : "are"} malformed; nothing was accepted: fix ${problemCount === 1 ? "it" : "them"} and send the request again`,
      problems,
      problemCount,
    );
  }

  const received = new Date(receivedAt).toISOString();
  const records: StreamRecord[] = [];
  let total = 0;
  calls.forEach((raw, index) => {
    const call = raw as Json;
    const record: Json = { ...call };
    if (route === "track") record.type = "track";
    if (envelope.context !== undefined) record.context = mergeOf(envelope.context, call.context);
    if (envelope.integrations !== undefined) {
      record.integrations = mergeOf(envelope.integrations, call.integrations);
    }
    if (call.sentAt === undefined && typeof envelope.sentAt === "string") record.sentAt = envelope.sentAt;
    record.receivedAt = received;
    let data: string;
    try {
      data = JSON.stringify(record);
    } catch {
      // JSON.stringify recurses: a value nested tens of thousands deep overflows the stack.
      throw new CollectRequestError(400, `${label(index)} is nested too deeply: flatten its properties`);
    }
    const bytes = Buffer.byteLength(data, "utf8");
    if (bytes > MAX_CALL_BYTES) {
      throw new CollectRequestError(
        413,
        `${label(index)} is ${bytes} bytes${envelope.context === undefined ? "" : " with the batch's context merged in"}, over Segment's limit of ${KB(MAX_CALL_BYTES)} a call: send less in its properties or context`,
      );
    }
    total += bytes;
    if (total > MAX_BATCH_RECORD_BYTES) {
      throw new CollectRequestError(
        413,
        `with the batch's context merged into every call, the calls come to over ${KB(MAX_BATCH_RECORD_BYTES)}: send smaller batches, or the context in each call`,
      );
    }
    records.push({ data, partitionKey: partitionKeyOf(call) });
  });
  return records;
}
