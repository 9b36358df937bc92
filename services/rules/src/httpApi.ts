import { headerOf, jsonResult, requestPath } from "@pia/aws";
import type {
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2WithRequestContext,
  APIGatewayProxyStructuredResultV2,
} from "aws-lambda";
import { BadRequestError } from "./errors.js";

// One reading of headers and paths, and one JSON answer, for every HTTP API of the project, in @pia/aws.
export { headerOf, jsonResult, requestPath };

/** An API Gateway HTTP API request (payload format 2.0), with or without an authorizer. */
export type ApiEvent = APIGatewayProxyEventV2WithRequestContext<
  APIGatewayEventRequestContextV2 & { readonly authorizer?: unknown }
>;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** The body as JSON; `BadRequestError` when there is none or it is not JSON. */
export function readJsonBody(event: ApiEvent): unknown {
  const raw = event.body ?? "";
  const text = event.isBase64Encoded ? Buffer.from(raw, "base64").toString("utf8") : raw;
  if (text.trim() === "") {
    throw new BadRequestError("the request has no body: send the rule as a JSON object");
  }
  try {
    return JSON.parse(text);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new BadRequestError(`the body is not valid JSON (${reason}): send the rule as a JSON object`, {
      cause: error,
    });
  }
}

const VERSION = /^\d{1,15}$/;

/** `If-Match: "3"` (also `3` or `W/"3"`): the version a change was made from. */
function ifMatchVersion(event: ApiEvent): number | undefined {
  const header = headerOf(event, "if-match");
  if (header === undefined) return undefined;
  const text = header
    .trim()
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1");
  if (!VERSION.test(text)) {
    throw new BadRequestError(
      `If-Match is ${JSON.stringify(header)}: send the version the rule was read at, as GET /rules/{id} gives it in ETag, e.g. If-Match: "3"`,
    );
  }
  return Number(text);
}

/**
 * The expected version of a change: `If-Match`, or a `version` next to the rule's fields in the
 * body (taken out of the draft, which is strict about unknown keys). Both must agree.
 */
export function readExpectedVersion(event: ApiEvent, body?: unknown): { expected?: number; draft: unknown } {
  const fromHeader = ifMatchVersion(event);
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("version" in body)) {
    return { ...(fromHeader === undefined ? {} : { expected: fromHeader }), draft: body };
  }
  const { version, ...draft } = body as Record<string, unknown>;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) {
    throw new BadRequestError(
      `"version" is ${JSON.stringify(version)}: send the version the rule was read at (a whole number, as GET /rules/{id} gives it)`,
    );
  }
  if (fromHeader !== undefined && fromHeader !== version) {
    throw new BadRequestError(
      `If-Match says version ${fromHeader} but the body says ${version}: send one of them`,
    );
  }
  return { expected: version, draft };
}

/** A whole number >= 1 from a path segment (`/versions/{version}`). */
export function readVersionParam(text: string): number {
  if (!VERSION.test(text) || Number(text) < 1) {
    throw new BadRequestError(
      `version ${JSON.stringify(text)} is not a version number: use one GET /rules/{id}/versions lists`,
    );
  }
  return Number(text);
}

/**
 * CORS response headers: `access-control-allow-origin` only for an allowed origin (echoed), and
 * `vary: origin` whenever CORS is configured, so caches keep the answers to each origin apart.
 */
export function corsHeaders(event: ApiEvent, allowedOrigins: readonly string[]): Record<string, string> {
  if (allowedOrigins.length === 0) return {};
  const origin = headerOf(event, "origin");
  if (origin === undefined || !allowedOrigins.includes(origin)) return { vary: "origin" };
  return {
    vary: "origin",
    "access-control-allow-origin": origin,
    "access-control-expose-headers": "etag, location",
  };
}
