import type { ApiEvent } from "./httpApi.js";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/**
 * Who makes a change, from what API Gateway's authorizer established: the IAM caller's ARN, or a
 * JWT's (Cognito's) email, else its user name (an access token's `username`, an id token's
 * `cognito:username`), else its subject; `unknown` without an authorizer.
 */
export function requestAuthor(event: ApiEvent): string {
  const authorizer = event.requestContext.authorizer;
  if (!isRecord(authorizer)) return "unknown";
  if (isRecord(authorizer.iam)) {
    const arn = nonEmpty(authorizer.iam.userArn);
    if (arn !== undefined) return arn;
  }
  if (isRecord(authorizer.jwt) && isRecord(authorizer.jwt.claims)) {
    const { claims } = authorizer.jwt;
    const who =
      nonEmpty(claims.email) ??
      nonEmpty(claims.username) ??
      nonEmpty(claims["cognito:username"]) ??
      nonEmpty(claims.sub);
    if (who !== undefined) return who;
  }
  return "unknown";
}
