import type { Access } from "./config.js";
import type { ApiEvent } from "./httpApi.js";

export type CallerDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly status: 401 | 403; readonly message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A list claim as API Gateway's JWT authorizer hands it over. The HTTP API flattens a JSON array
 * into one string (Cognito's `cognito:groups` arrives as `[pia-editors other]`); a test or
 * another proxy may pass the array itself; `scope` is one space-separated string.
 */
export function claimValues(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  if (typeof value !== "string") return [];
  const text = value.trim();
  const inner = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  return inner
    .split(/[\s,]+/)
    .map((item) => item.replace(/^"(.*)"$/, "$1"))
    .filter((item) => item !== "");
}

/**
 * Whether API Gateway's authorizer let this caller in with what the API requires (`Access`): 401
 * without the authorizer's context (a route deployed without the authorizer, or another mode's),
 * 403 for a token without the required group or scope. A valid token alone is not enough: anyone
 * who can sign up to the user pool has one.
 */
export function authorizeCaller(event: ApiEvent, access: Access): CallerDecision {
  const { authorizer } = event.requestContext;
  const unauthenticated = {
    allowed: false,
    status: 401,
    message:
      access.authorizer === "iam"
        ? "not authenticated: sign the request with SigV4 (the API's routes use AWS_IAM)"
        : "not signed in: send a token from the sign-in page as Authorization: Bearer <token>",
  } as const;
  if (!isRecord(authorizer)) return unauthenticated;
  if (access.authorizer === "iam") return isRecord(authorizer.iam) ? { allowed: true } : unauthenticated;
  const { jwt } = authorizer;
  if (!isRecord(jwt) || !isRecord(jwt.claims)) return unauthenticated;
  const missing: string[] = [];
  if (access.group !== undefined && !claimValues(jwt.claims["cognito:groups"]).includes(access.group)) {
    missing.push(`the group ${access.group} (cognito:groups)`);
  }
  if (access.scope !== undefined) {
    const scopes = [
      ...claimValues(jwt.scopes),
      ...claimValues(jwt.claims.scope),
      ...claimValues(jwt.claims.scp),
    ];
    if (!scopes.includes(access.scope)) missing.push(`the scope ${access.scope}`);
  }
  if (missing.length === 0) return { allowed: true };
  return {
    allowed: false,
    status: 403,
    message: `signed in, but not allowed to use the rules API: your token lacks ${missing.join(" and ")}; ask an administrator to grant it, then sign in again`,
  };
}
