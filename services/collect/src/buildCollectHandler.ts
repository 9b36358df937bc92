import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { emitCounts } from "@pia/aws";
import { makeCollectCalls } from "./collectCalls.js";
import { type ApiEvent, type ApiResult, bodyBytes, headerOf, jsonResult, requestPath } from "./httpApi.js";
import type { Now, PutRecords, ReadWriteKeys, Sleep } from "./ports.js";
import { makePutCalls } from "./putCalls.js";
import type { CollectRoute } from "./readCollectRequest.js";

export interface CollectHandlerDeps {
  readonly readWriteKeys: ReadWriteKeys;
  readonly putRecords: PutRecords;
  /** How long a request retries what the stream refused before answering 503, ms. */
  readonly putBudgetMs: number;
  readonly logger: Logger;
  /** CloudWatch metrics (EMF) on Lambda; `pia local` passes none. */
  readonly metrics?: Metrics;
  readonly now?: Now;
  readonly sleep?: Sleep;
  readonly random?: () => number;
}

/** The routes, as API Gateway routes them (serverless.yml) and the local server does. */
export const COLLECT_ROUTES: Readonly<Record<string, CollectRoute>> = {
  "/v1/track": "track",
  "/v1/batch": "batch",
};

const sleepFor: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The collection endpoint's Lambda handler (HTTP API, payload format 2.0): `POST /v1/track` and
 * `POST /v1/batch`, answered as `makeCollectCalls` decides. Logs counts and statuses, never
 * bodies, user ids, headers or keys.
 */
export function buildCollectHandler(deps: CollectHandlerDeps) {
  const { logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const collectCalls = makeCollectCalls({
    readWriteKeys: deps.readWriteKeys,
    now,
    putCalls: makePutCalls({
      putRecords: deps.putRecords,
      now,
      sleep: deps.sleep ?? sleepFor,
      budgetMs: deps.putBudgetMs,
      ...(deps.random === undefined ? {} : { random: deps.random }),
    }),
  });
  const handler = middy<ApiEvent, ApiResult>()
    // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT: requests carry keys and user ids.
    .use(injectLambdaContext(logger, { logEvent: false }))
    .handler(async (event) => {
      const path = requestPath(event);
      const route = Object.hasOwn(COLLECT_ROUTES, path) ? COLLECT_ROUTES[path] : undefined;
      if (route === undefined) {
        return jsonResult(404, { success: false, message: "send calls to POST /v1/track or POST /v1/batch" });
      }
      if (event.requestContext.http.method !== "POST") {
        return jsonResult(405, { success: false, message: `${path} takes POST` }, { allow: "POST" });
      }
      const result = await collectCalls({
        route,
        authorization: headerOf(event, "authorization"),
        contentEncoding: headerOf(event, "content-encoding"),
        body: bodyBytes(event),
      });
      const counts = { calls: result.calls, put: result.put, notPut: result.notPut, retries: result.retries };
      if (result.status >= 500)
        logger.error("calls not put on the stream", { route, status: result.status, ...counts });
      else logger.info("request answered", { route, status: result.status, ...counts });
      if (metrics !== undefined) {
        emitCounts(metrics, {
          CallsPut: result.put,
          CallsNotPut: result.notPut,
          PutRetries: result.retries,
          RequestsRefused: result.status >= 400 && result.status < 500 ? 1 : 0,
        });
      }
      return jsonResult(result.status, result.body, result.headers);
    });
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}
