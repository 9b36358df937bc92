// Signing in to a deployed API with a JWT authorizer (e.g. a Cognito user pool): the OAuth 2.0
// authorization code flow with PKCE (RFC 7636) and a `state` check, as a public client (no
// secret). The page sends the user to the provider's authorize endpoint with a fresh `state` and
// the S256 challenge of a fresh verifier, both kept in this tab's sessionStorage; back here, it
// accepts the code only with that `state`, and exchanges it, with the verifier, at the token
// endpoint. A code without its verifier is worthless, and a forged return is refused unread.
// The access token is kept for the tab's session and sent as a Bearer token.

const PENDING_KEY = "pia.signIn";
const TOKEN_KEY = "pia.token";

/** Bytes as base64url without padding (RFC 4648 section 5), as PKCE writes verifiers and challenges. */
export function base64Url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A random, unguessable text of `byteCount` bytes from the browser's CSPRNG (32: a 43-character verifier). */
export function randomText(byteCount = 32) {
  return base64Url(crypto.getRandomValues(new Uint8Array(byteCount)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

/** Where this page asks to be sent back: itself, without query or fragment (registered as the callback URL). */
export const redirectUriOf = (location) => `${location.origin}${location.pathname}`;

/** The authorize endpoint's URL for one sign-in (`signIn` as GET /sign-in.json gives it). */
export function authorizeUrl(signIn, { redirectUri, state, challenge }) {
  const url = new URL(signIn.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: signIn.clientId,
    redirect_uri: redirectUri,
    scope: signIn.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  return url.href;
}

export class SignInError extends Error {
  name = "SignInError";
}

/** Starts a sign-in: remembers a new state and verifier for this tab, then leaves for the provider. */
export async function startSignIn(signIn, { storage = sessionStorage, location = window.location } = {}) {
  const state = randomText(16);
  const verifier = randomText(32);
  const redirectUri = redirectUriOf(location);
  storage.setItem(PENDING_KEY, JSON.stringify({ state, verifier, redirectUri }));
  location.assign(authorizeUrl(signIn, { redirectUri, state, challenge: await codeChallenge(verifier) }));
}

/**
 * The token for API calls: after a return from the provider (`?code=…&state=…`, or `?error=…`),
 * the one the code is exchanged for, once `state` is checked; otherwise the one this tab kept,
 * or `null`. The code, state and pending verifier are removed whatever happens. Throws
 * `SignInError` (saying what to do) for a refused, forged or failed sign-in.
 */
export async function finishSignIn(
  signIn,
  { storage = sessionStorage, location = window.location, history = window.history, fetchToken = fetch } = {},
) {
  const params = new URLSearchParams(location.search);
  const code = params.get("code");
  const error = params.get("error");
  if (code === null && error === null) return storage.getItem(TOKEN_KEY);
  const pending = JSON.parse(storage.getItem(PENDING_KEY) ?? "null");
  storage.removeItem(PENDING_KEY);
  storage.removeItem(TOKEN_KEY);
  history.replaceState(null, "", location.pathname);
  if (pending === null || typeof pending.state !== "string" || params.get("state") !== pending.state) {
    throw new SignInError(
      "this sign-in answer was not asked for by this tab (its state does not match): sign in again",
    );
  }
  if (error !== null) {
    const reason = params.get("error_description") ?? error;
    throw new SignInError(`the sign-in page refused: ${reason}`);
  }
  const response = await fetchToken(signIn.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: signIn.clientId,
      code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok || typeof answer.access_token !== "string") {
    throw new SignInError(
      `the token endpoint refused the sign-in (${answer.error ?? `HTTP ${response.status}`}): sign in again`,
    );
  }
  storage.setItem(TOKEN_KEY, answer.access_token);
  return answer.access_token;
}

/** Forgets the kept token (it expired or was refused): the next call needs a new sign-in. */
export function forgetToken(storage = sessionStorage) {
  storage.removeItem(TOKEN_KEY);
}
