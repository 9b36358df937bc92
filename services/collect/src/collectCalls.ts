import { isWriteKey, readWriteKey } from "./checkWriteKey.js";
import { CollectRequestError, StreamUnavailableError } from "./errors.js";
import type { Now, ReadWriteKeys, StreamRecord } from "./ports.js";
import type { PutOutcome } from "./putCalls.js";
import { type CollectRoute, readCollectRequest } from "./readCollectRequest.js";

export interface CollectCallsDeps {
  readonly readWriteKeys: ReadWriteKeys;
  readonly putCalls: (records: readonly StreamRecord[]) => Promise<PutOutcome>;
  readonly now: Now;
}

/** A request to /v1/track or /v1/batch, whatever carried it (API Gateway, the local server). */
export interface CollectRequest {
  readonly route: CollectRoute;
  readonly authorization: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly body: Uint8Array;
}

/** The answer, and what became of the calls (for logs and metrics: counts only). */
export interface CollectAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers?: Record<string, string>;
  readonly calls: number;
  readonly put: number;
  readonly notPut: number;
  readonly retries: number;
}

const answer = (
  status: number,
  body: Record<string, unknown>,
  extra: Partial<CollectAnswer> = {},
): CollectAnswer => ({
  status,
  body,
  calls: 0,
  put: 0,
  notPut: 0,
  retries: 0,
  ...extra,
});

/**
 * Segment's HTTP Tracking API, the part pia needs: checks the write key (401), reads the request
 * (`readCollectRequest`: 413 over a limit, 400 malformed, nothing put), puts every call on the
 * stream and answers 200 `{ "success": true }` only once each is there; 503 when some could not
 * be put in time, so that the client sends the request again.
 */
export function makeCollectCalls(deps: CollectCallsDeps) {
  return async (request: CollectRequest): Promise<CollectAnswer> => {
    const given = readWriteKey(request.authorization);
    if (given === undefined || !isWriteKey(given, await deps.readWriteKeys())) {
      return answer(
        401,
        {
          success: false,
          message:
            "send the source's write key with Basic auth: Authorization: Basic base64(<write key>:), the key as user name and an empty password",
        },
        { headers: { "www-authenticate": 'Basic realm="pia", charset="UTF-8"' } },
      );
    }
    const encoding = request.contentEncoding?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== "" && encoding !== "identity") {
      return answer(415, {
        success: false,
        message: `Content-Encoding ${encoding} is not accepted: send the body uncompressed`,
      });
    }
    let records: StreamRecord[];
    try {
      records = readCollectRequest(request.route, request.body, deps.now());
    } catch (error: unknown) {
      if (!(error instanceof CollectRequestError)) throw error;
      return answer(error.status, {
        success: false,
        message: error.message,
        ...(error.problems.length === 0
          ? {}
          : { problems: error.problems, problemCount: error.problemCount }),
      });
    }
    try {
      const { put, retries } = await deps.putCalls(records);
      return answer(200, { success: true }, { calls: records.length, put, retries });
    } catch (error: unknown) {
      if (!(error instanceof StreamUnavailableError)) throw error;
      return answer(
        503,
        { success: false, message: error.message },
        {
          headers: { "retry-after": "1" },
          calls: records.length,
          put: error.total - error.notPut,
          notPut: error.notPut,
        },
      );
    }
  };
}
