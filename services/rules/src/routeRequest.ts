/** A route: an HTTP method and a path pattern whose `{name}` segments are parameters. */
export interface RouteSpec {
  readonly method: string;
  readonly path: string;
}

export type RouteMatch<R extends RouteSpec> =
  | { readonly kind: "found"; readonly route: R; readonly params: Readonly<Record<string, string>> }
  /** The path is known but not with this method: `allow` lists the methods it has. */
  | { readonly kind: "wrongMethod"; readonly allow: readonly string[] }
  | { readonly kind: "notFound" };

function segmentsOf(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "");
}

function matchSegments(
  pattern: readonly string[],
  path: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of pattern.entries()) {
    const segment = path[index] ?? "";
    const name = /^\{(\w+)\}$/.exec(part)?.[1];
    if (name !== undefined) params[name] = segment;
    else if (part !== segment) return undefined;
  }
  return params;
}

const literalCount = (route: RouteSpec) =>
  segmentsOf(route.path).filter((part) => !part.startsWith("{")).length;

/**
 * Finds the route of a request. Path segments are compared as they come (API Gateway HTTP APIs
 * decode the path before the Lambda sees it); when several patterns match, the one with more
 * literal segments wins (`POST /rules/validate` over `POST /rules/{id}`).
 */
export function routeRequest<R extends RouteSpec>(
  routes: readonly R[],
  method: string,
  path: string,
): RouteMatch<R> {
  const segments = segmentsOf(path);
  const matching = routes.flatMap((route) => {
    const params = matchSegments(segmentsOf(route.path), segments);
    return params === undefined ? [] : [{ route, params }];
  });
  if (matching.length === 0) return { kind: "notFound" };
  const upper = method.toUpperCase();
  const [best] = matching
    .filter(({ route }) => route.method === upper)
    .sort((a, b) => literalCount(b.route) - literalCount(a.route));
  if (best === undefined)
    return { kind: "wrongMethod", allow: [...new Set(matching.map(({ route }) => route.method))] };
  return { kind: "found", ...best };
}
