import type { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import {
  type BackfillOutcome,
  ChangeSetTooLargeError,
  InvalidStoredRulesError,
  type StageReader,
} from "@pia/aws";
import { counterKey, formatRulesCsv, ruleWords } from "@pia/core";
import { authorizeCaller } from "./authorizeCaller.js";
import {
  type BackfillStatus,
  backfillOfRule,
  backfillsByCounterKey,
  readBackfillRequest,
  readRestoreBody,
} from "./backfillRequest.js";
import { DEFAULT_PREVIEW_DAYS, DEFAULT_PREVIEW_MAX_EVENTS, type RulesApiConfig } from "./config.js";
import { makeCreateRule, type SavedRule } from "./createRule.js";
import { makeDeleteRule } from "./deleteRule.js";
import {
  BadRequestError,
  ExplainUnavailableError,
  type FieldIssue,
  InvalidRuleError,
  InvalidRulesFileError,
  PreviewUnavailableError,
  RuleExistsError,
  RuleNotFoundError,
  RuleSetConflictError,
  RuleVersionConflictError,
  VersionRequiredError,
} from "./errors.js";
import { makeExplainUser } from "./explainUser.js";
import { makeGetRule } from "./getRule.js";
import {
  type ApiEvent,
  type ApiResult,
  corsHeaders,
  jsonResult,
  readExpectedVersion,
  readJsonBody,
  readVersionParam,
  requestPath,
} from "./httpApi.js";
import { makeImportRulesCsv } from "./importRulesCsv.js";
import { makeListRules } from "./listRules.js";
import { makeListRuleVersions } from "./listRuleVersions.js";
import type { Now, ReadEventsByTypeDay, RuleStore, StoredRule } from "./ports.js";
import { makePreviewDraftRule, PREVIEW_MAX_BYTES } from "./previewDraftRule.js";
import { requestAuthor } from "./requestAuthor.js";
import { makeRestoreRuleVersion } from "./restoreRuleVersion.js";
import { routeRequest } from "./routeRequest.js";
import { draftRule, ruleFormSchema } from "./ruleForm.js";
import { makeServeEditor } from "./serveEditor.js";
import { makeSetRuleEnabled } from "./setRuleEnabled.js";
import { makeUpdateRule } from "./updateRule.js";
import { validateRule } from "./validateRule.js";

export interface RulesApiHandlerDeps {
  readonly config: RulesApiConfig;
  readonly store: RuleStore;
  /** The events table's `byTypeDay` index, for previews; absent: `POST /rules/preview` answers 409. */
  readonly readEventsByTypeDay?: ReadEventsByTypeDay;
  /**
   * One user's stored events (events table) and counters (counters table), for
   * `POST /rules/{id}/explain`; absent: that route answers 409.
   */
  readonly stageReader?: StageReader;
  readonly logger: Logger;
  readonly now?: Now;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

interface Route {
  readonly method: string;
  readonly path: string;
  handle(params: Readonly<Record<string, string>>, event: ApiEvent): Promise<Reply>;
}

/** Where the editor learns how to sign in (`SignIn`, or `null`), without credentials. */
export const SIGN_IN_PATH = "/sign-in.json";

/**
 * A rule as the API returns it; `version` is what a change sends back (If-Match); `words`, the
 * rule in the core's words (`ruleWords`), which the editor lists so that it keeps no wording of its
 * own: `pageview: count > 5 in the last 7 days`. `counterKey` names what the rule counts (a change
 * that changes it starts a new counting, which may be backfilled); `backfill`, the backfill of that
 * counting when one was requested; `backfillOutcome`, what became of a change's backfill request.
 */
function ruleBody(
  stored: StoredRule,
  extra: {
    readonly warnings?: readonly FieldIssue[] | undefined;
    readonly backfill?: BackfillStatus | undefined;
    readonly backfillOutcome?: BackfillOutcome | undefined;
  } = {},
) {
  const { warnings, backfill, backfillOutcome } = extra;
  return {
    rule: stored.rule,
    words: ruleWords(stored.rule),
    version: stored.version,
    counterKey: counterKey(stored.rule),
    ...(stored.updatedAt === undefined ? {} : { updatedAt: stored.updatedAt }),
    ...(stored.updatedBy === undefined ? {} : { updatedBy: stored.updatedBy }),
    ...(warnings === undefined || warnings.length === 0 ? {} : { warnings }),
    ...(backfill === undefined ? {} : { backfill }),
    ...(backfillOutcome === undefined ? {} : { backfillOutcome }),
  };
}

const etag = (stored: StoredRule) => ({ etag: `"${stored.version}"` });

/** A route parameter that the route's pattern guarantees. */
function param(params: Readonly<Record<string, string>>, name: string): string {
  const value = params[name];
  if (value === undefined) throw new Error(`route parameter ${name} is missing`);
  return value;
}

/** Request problems and refusals: their status and the body that explains them. */
function errorReply(error: unknown): Reply | undefined {
  if (error instanceof InvalidRuleError) {
    return {
      status: 400,
      body: {
        message: "the rule is invalid: fix every error listed",
        errors: error.errors,
        ...(error.warnings.length === 0 ? {} : { warnings: error.warnings }),
      },
    };
  }
  if (error instanceof InvalidRulesFileError) {
    return {
      status: 400,
      body: {
        message: error.message,
        errors: error.errors,
        ...(error.warnings.length === 0 ? {} : { warnings: error.warnings }),
      },
    };
  }
  if (error instanceof BadRequestError) return { status: 400, body: { message: error.message } };
  if (error instanceof ChangeSetTooLargeError) return { status: 413, body: { message: error.message } };
  if (error instanceof RuleSetConflictError) return { status: 409, body: { message: error.message } };
  if (error instanceof RuleNotFoundError) return { status: 404, body: { message: error.message } };
  if (error instanceof RuleExistsError) return { status: 409, body: { message: error.message } };
  if (error instanceof PreviewUnavailableError) return { status: 409, body: { message: error.message } };
  if (error instanceof ExplainUnavailableError) return { status: 409, body: { message: error.message } };
  if (error instanceof RuleVersionConflictError) {
    return {
      status: 409,
      body: {
        message: error.message,
        ...(error.current === undefined ? {} : { currentVersion: error.current }),
      },
    };
  }
  if (error instanceof VersionRequiredError) return { status: 428, body: { message: error.message } };
  return undefined;
}

/** `{ "csv": "<the file>", "dryRun"?: true }`, the body of `POST /rules/import`. */
function readImportBody(body: unknown): { csv: string; dryRun: boolean } {
  const { csv, dryRun, ...rest } = (typeof body === "object" && body !== null ? body : {}) as Record<
    string,
    unknown
  >;
  const unknownKeys = Object.keys(rest);
  if (
    typeof csv !== "string" ||
    (dryRun !== undefined && typeof dryRun !== "boolean") ||
    unknownKeys.length > 0
  ) {
    throw new BadRequestError(
      `send the CSV as a JSON object { "csv": "<the file's text>", "dryRun": true|false }${unknownKeys.length === 0 ? "" : ` (unknown keys: ${unknownKeys.join(", ")})`}`,
    );
  }
  return { csv, dryRun: dryRun === true };
}

/**
 * The rules API's Lambda handler (API Gateway HTTP API, payload format 2.0): routes, reads the
 * request, runs the use case and answers JSON. Never logs callers, bodies or headers.
 */
export function buildRulesApiHandler(deps: RulesApiHandlerDeps) {
  const { config, store, logger } = deps;
  const now = deps.now ?? Date.now;
  const listRules = makeListRules({ store });
  const getRule = makeGetRule({ store });
  const listRuleVersions = makeListRuleVersions({ store });
  const createRule = makeCreateRule({ store, now });
  const updateRule = makeUpdateRule({ store, now });
  const setRuleEnabled = makeSetRuleEnabled({ store, now });
  const deleteRule = makeDeleteRule({ store, now });
  const restoreRuleVersion = makeRestoreRuleVersion({ store, now });
  const importRulesCsv = makeImportRulesCsv({ store, now });
  const previewDraftRule = makePreviewDraftRule({
    readEventsByTypeDay: deps.readEventsByTypeDay,
    now,
    days: config.previewDays ?? DEFAULT_PREVIEW_DAYS,
    maxEvents: config.previewMaxEvents ?? DEFAULT_PREVIEW_MAX_EVENTS,
    maxBytes: PREVIEW_MAX_BYTES,
  });
  const explainUser = makeExplainUser({ store, reader: deps.stageReader, now });
  // The editor's page and assets, served from the function's `editor/` folder; the page may
  // fetch tokens from the sign-in domain.
  const serveEditor = makeServeEditor(
    config.signIn === undefined ? {} : { connectTo: [new URL(config.signIn.tokenUrl).origin] },
  );
  const expectedOf = (event: ApiEvent) => readExpectedVersion(event).expected;
  const authenticateHeader =
    config.access.authorizer === "iam" ? "AWS4-HMAC-SHA256" : 'Bearer realm="pia-rules"';

  const setEnabled = (enabled: boolean): Route["handle"] => {
    return async (params, event) => {
      const stored = await setRuleEnabled(
        param(params, "id"),
        enabled,
        expectedOf(event),
        requestAuthor(event),
      );
      return {
        status: 200,
        body: ruleBody(stored, { backfill: await backfillOfRule(store, stored.rule) }),
        headers: etag(stored),
      };
    };
  };

  /** A written rule's body: its warnings, its counting's backfill, what became of a backfill request. */
  const savedBody = async ({ stored, warnings, backfill }: SavedRule) =>
    ruleBody(stored, {
      warnings,
      backfill: await backfillOfRule(store, stored.rule),
      ...(backfill === undefined ? {} : { backfillOutcome: backfill }),
    });

  const routes: readonly Route[] = [
    {
      method: "GET",
      path: "/rules",
      handle: async () => {
        // The rules first, then the backfills, once for the list (see backfillOfRule).
        const rules = await listRules();
        const backfills = await backfillsByCounterKey(store);
        return {
          status: 200,
          body: {
            rules: rules.map((stored) =>
              ruleBody(stored, { backfill: backfills.get(counterKey(stored.rule)) }),
            ),
          },
        };
      },
    },
    {
      method: "POST",
      path: "/rules",
      handle: async (_, event) => {
        const { draft, backfill } = readBackfillRequest(readJsonBody(event));
        const saved = await createRule(draft, requestAuthor(event), backfill);
        const { stored } = saved;
        return {
          status: 201,
          body: await savedBody(saved),
          headers: { ...etag(stored), location: `/rules/${encodeURIComponent(stored.rule.id)}` },
        };
      },
    },
    {
      method: "POST",
      path: "/rules/validate",
      handle: async (_, event) => {
        const { rule, warnings } = validateRule(readJsonBody(event));
        return { status: 200, body: { rule, warnings } };
      },
    },
    { method: "GET", path: "/rules/schema", handle: async () => ({ status: 200, body: ruleFormSchema() }) },
    {
      method: "POST",
      path: "/rules/draft",
      handle: async (_, event) => {
        const { valid, ...body } = draftRule(readJsonBody(event));
        return { status: valid ? 200 : 400, body };
      },
    },
    {
      method: "POST",
      path: "/rules/import",
      handle: async (_, event) => {
        const { csv, dryRun } = readImportBody(readJsonBody(event));
        const result = await importRulesCsv(csv, { dryRun }, requestAuthor(event));
        return { status: 200, body: result };
      },
    },
    {
      method: "GET",
      path: "/rules/export",
      handle: async () => {
        const rules = (await listRules()).map((stored) => stored.rule);
        const { text, leftOut } = formatRulesCsv(rules);
        const disabled = rules.filter((rule) => !rule.enabled).map((rule) => rule.id);
        return { status: 200, body: { fileName: "rules.csv", csv: text, leftOut, disabled } };
      },
    },
    {
      method: "POST",
      path: "/rules/preview",
      handle: async (_, event) => {
        const preview = await previewDraftRule(readJsonBody(event));
        // Counts only: the sample's user ids go to the caller, never to the logs.
        logger.info("rule previewed", {
          from: preview.from,
          to: preview.to,
          eventsRead: preview.eventsRead,
          truncated: preview.truncated,
          ...(preview.partial === undefined ? {} : { partialReason: preview.partial.reason }),
        });
        return { status: 200, body: preview };
      },
    },
    {
      method: "GET",
      path: "/rules/{id}",
      handle: async (params) => {
        const stored = await getRule(param(params, "id"));
        return {
          status: 200,
          body: ruleBody(stored, { backfill: await backfillOfRule(store, stored.rule) }),
          headers: etag(stored),
        };
      },
    },
    {
      method: "PUT",
      path: "/rules/{id}",
      handle: async (params, event) => {
        const { expected, draft: body } = readExpectedVersion(event, readJsonBody(event));
        const { draft, backfill } = readBackfillRequest(body);
        const saved = await updateRule(param(params, "id"), draft, expected, requestAuthor(event), backfill);
        return { status: 200, body: await savedBody(saved), headers: etag(saved.stored) };
      },
    },
    {
      method: "DELETE",
      path: "/rules/{id}",
      handle: async (params, event) => {
        const id = param(params, "id");
        const { version } = await deleteRule(id, expectedOf(event), requestAuthor(event));
        return { status: 200, body: { id, deleted: true, version } };
      },
    },
    { method: "POST", path: "/rules/{id}/disable", handle: setEnabled(false) },
    { method: "POST", path: "/rules/{id}/enable", handle: setEnabled(true) },
    {
      // POST, so that the user id travels in the body, never in a URL or an access log.
      method: "POST",
      path: "/rules/{id}/explain",
      handle: async (params, event) => {
        const answer = await explainUser(param(params, "id"), readJsonBody(event));
        // Counts only: the user, the app and the answer go to the caller, never to the logs.
        logger.info("user explained", {
          eventsRead: answer.read.events,
          truncated: answer.read.truncated,
          counted: answer.counted,
        });
        return { status: 200, body: answer };
      },
    },
    {
      method: "GET",
      path: "/rules/{id}/versions",
      handle: async (params) => ({
        status: 200,
        body: { versions: await listRuleVersions(param(params, "id")) },
      }),
    },
    {
      method: "POST",
      path: "/rules/{id}/versions/{version}/restore",
      handle: async (params, event) => {
        const version = readVersionParam(param(params, "version"));
        // The body is optional: `{ "backfill": … }` when the restored rule counts anew.
        const { backfill } = readRestoreBody((event.body ?? "") === "" ? undefined : readJsonBody(event));
        const saved = await restoreRuleVersion(
          param(params, "id"),
          version,
          expectedOf(event),
          requestAuthor(event),
          backfill,
        );
        return { status: 200, body: await savedBody(saved), headers: etag(saved.stored) };
      },
    },
  ];

  // Told in every 404: the route table's own paths, so that the list cannot drift from it.
  const paths = [...new Set(routes.map((route) => route.path))];
  const servedPaths = `${paths.slice(0, -1).join(", ")} and ${paths.at(-1)}`;

  async function respond(event: ApiEvent): Promise<ApiResult> {
    // API Gateway's request id ties this invocation's log lines to its access log and to the caller.
    logger.setCorrelationId(event.requestContext.requestId);
    const asset = await serveEditor(event);
    if (asset !== undefined) return asset;
    const method = event.requestContext.http.method.toUpperCase();
    const cors = corsHeaders(event, config.allowedOrigins);
    const answer = (reply: Reply, route?: string, ruleId?: string): ApiResult => {
      logger.info("request", {
        method,
        route: route ?? "(none)",
        status: reply.status,
        ...(ruleId === undefined ? {} : { ruleId }),
      });
      return jsonResult(reply.status, reply.body, { ...cors, ...reply.headers });
    };
    if (requestPath(event) === SIGN_IN_PATH && (method === "GET" || method === "HEAD")) {
      // Public, like the page that reads it: where to sign in holds no secret (a public client).
      return answer({ status: 200, body: { signIn: config.signIn ?? null } }, SIGN_IN_PATH);
    }
    // A preflight carries no credentials (browsers never send them) and is answered with no data.
    if (method !== "OPTIONS") {
      const caller = authorizeCaller(event, config.access);
      if (!caller.allowed) {
        return answer({
          status: caller.status,
          body: { message: caller.message },
          ...(caller.status === 401 ? { headers: { "www-authenticate": authenticateHeader } } : {}),
        });
      }
    }
    const match = routeRequest(routes, method, requestPath(event));

    if (match.kind === "notFound") {
      return answer({
        status: 404,
        body: {
          message: `no route ${method} ${requestPath(event)}: the API serves ${servedPaths}`,
        },
      });
    }
    if (match.kind === "wrongMethod") {
      const allow = match.allow.join(", ");
      if (method === "OPTIONS") {
        // A CORS preflight that API Gateway passed on: allowed origins only get the grants.
        const grants =
          cors["access-control-allow-origin"] === undefined
            ? {}
            : {
                "access-control-allow-methods": allow,
                "access-control-allow-headers": "authorization, content-type, if-match",
                "access-control-max-age": "600",
              };
        return { statusCode: 204, headers: { ...cors, ...grants, allow } };
      }
      return answer({
        status: 405,
        body: { message: `${method} is not allowed on ${requestPath(event)}: use ${allow}` },
        headers: { allow },
      });
    }

    const { route, params } = match;
    try {
      return answer(await route.handle(params, event), route.path, params.id);
    } catch (error: unknown) {
      const reply = errorReply(error);
      if (reply !== undefined) return answer(reply, route.path, params.id);
      logger.error("request failed", { method, route: route.path, ruleId: params.id, error });
      const stored =
        error instanceof InvalidStoredRulesError
          ? ` (the rules table holds invalid rules: ${error.ruleIds.map((id) => JSON.stringify(id)).join(", ")}; fix them with pia rules push)`
          : "";
      return jsonResult(
        500,
        { message: `internal error${stored}; request id ${event.requestContext.requestId}` },
        cors,
      );
    }
  }

  return (
    middy<ApiEvent, ApiResult>()
      // logEvent: false overrides POWERTOOLS_LOGGER_LOG_EVENT: requests carry callers and their tokens.
      .use(injectLambdaContext(logger, { logEvent: false }))
      .handler(respond)
  );
}
