/** What these helpers read of an API Gateway HTTP API request (payload format 2.0). */
interface HttpRequest {
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly rawPath: string;
  readonly requestContext: { readonly stage: string };
}

/** A header's value, whatever its case (API Gateway lowercases names; proxies and tests may not). */
export function headerOf(event: Pick<HttpRequest, "headers">, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** The path under the API: a named stage's `/stage` prefix (kept in `rawPath`) removed. */
export function requestPath(event: HttpRequest): string {
  const { stage } = event.requestContext;
  const path = event.rawPath;
  if (stage === "" || stage === "$default") return path;
  if (path === `/${stage}`) return "/";
  return path.startsWith(`/${stage}/`) ? path.slice(stage.length + 1) : path;
}

/** A JSON answer of an HTTP API, never cached (what every API of the project answers). */
export function jsonResult(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): { statusCode: number; headers: Record<string, string>; body: string } {
  return {
    statusCode,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
    body: JSON.stringify(body),
  };
}
