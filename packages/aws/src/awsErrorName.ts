/** Errors that mean the credentials were found but refused (expired, wrong, revoked). */
const REFUSED_CREDENTIALS = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "ExpiredTokenException",
  "ExpiredToken",
  "InvalidClientTokenId",
]);

/** The network failing before any answer: no route, no DNS, a reset, a timeout. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNRESET",
  "ETIMEDOUT",
  "TimeoutError",
]);

/**
 * The name to explain an SDK failure by: the AWS error's name, or for a network failure (a plain
 * `Error` that only its `code` tells apart) that code.
 */
export function awsErrorName(error: unknown): string {
  if (!(error instanceof Error)) return "Error";
  const code = (error as { code?: unknown }).code;
  return error.name === "Error" && typeof code === "string" ? code : error.name;
}

export function isRefusedCredentials(name: string): boolean {
  return REFUSED_CREDENTIALS.has(name);
}

export function isUnreachable(name: string): boolean {
  return UNREACHABLE.has(name);
}
