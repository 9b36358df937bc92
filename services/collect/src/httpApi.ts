import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/** An API Gateway HTTP API request (payload format 2.0). */
export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** A header's value, whatever its case (API Gateway lowercases names; proxies and tests may not). */
export function headerOf(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The path under the API: a named stage's `/stage` prefix (kept in `rawPath`) removed. */
export function requestPath(event: ApiEvent): string {
  const { stage } = event.requestContext;
  const path = event.rawPath;
  if (stage === "" || stage === "$default") return path;
  return path.startsWith(`/${stage}/`) ? path.slice(stage.length + 1) : path;
}

/** The body's bytes, as sent (API Gateway base64-encodes what it does not take for text). */
export function bodyBytes(event: ApiEvent): Buffer {
  const raw = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
}

export function jsonResult(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): ApiResult {
  return {
    statusCode,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}
