import { type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

/**
 * Who may call the API, as API Gateway's authorizer established it. `iam`: a SigV4-signed caller
 * (the authorizer's `iam` context). `jwt`: a token API Gateway validated (issuer, audience), whose
 * claims must also carry `group` in `cognito:groups` and `scope` in its scopes, each when set.
 */
export type Access =
  | { readonly authorizer: "iam" }
  | { readonly authorizer: "jwt"; readonly group?: string; readonly scope?: string };

/** The group a JWT caller needs when neither REQUIRED_GROUP nor REQUIRED_SCOPE is set. */
export const DEFAULT_EDITOR_GROUP = "pia-editors";

/** Where the editor signs people in (OAuth 2.0 authorization code flow with PKCE), e.g. a Cognito domain. */
export interface SignIn {
  /** `https://DOMAIN.auth.REGION.amazoncognito.com/oauth2/authorize` */
  readonly authorizeUrl: string;
  /** `https://DOMAIN.auth.REGION.amazoncognito.com/oauth2/token` */
  readonly tokenUrl: string;
  /** The app client (public: no secret), the JWT authorizer's audience. */
  readonly clientId: string;
  /** The scopes the editor asks for, space separated. */
  readonly scope: string;
}

export interface RulesApiConfig {
  readonly rulesTable: string;
  /** Who may call the API; every route but the editor's files, `GET /sign-in.json` and preflights. */
  readonly access: Access;
  /** How the editor signs in; absent: it sends no token (IAM, or a page that has its own). */
  readonly signIn?: SignIn;
  /** Browser origins (`https://host[:port]`) allowed to call the API; empty: no CORS headers. */
  readonly allowedOrigins: readonly string[];
  /** The events table whose `byTypeDay` index previews read; absent: `POST /rules/preview` answers 409. */
  readonly eventsTable?: string;
  /** The counters table, which `POST /rules/{id}/explain` reads (with the events table); absent: that route answers 409. */
  readonly countersTable?: string;
  /** Days a preview of a rule without a window reads, up to today (default `DEFAULT_PREVIEW_DAYS`). */
  readonly previewDays?: number;
  /** Events a preview reads at most before it stops, truncated (default `DEFAULT_PREVIEW_MAX_EVENTS`). */
  readonly previewMaxEvents?: number;
}

export const DEFAULT_PREVIEW_DAYS = 30;
/** The longest stretch of days a preview reads (also for a window rule): the default event retention. */
export const MAX_PREVIEW_DAYS = 400;
export const DEFAULT_PREVIEW_MAX_EVENTS = 200_000;
/** Events are held in memory while a preview is computed (a few hundred bytes each). */
const MAX_PREVIEW_MAX_EVENTS = 1_000_000;

/** `https://editor.example.com` as a browser sends it in `Origin`: scheme, host and port only. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
  } catch {
    return false;
  }
}

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** `AUTHORIZER`, `REQUIRED_GROUP`, `REQUIRED_SCOPE`: who may call the API. */
function readAccess(read: ReturnType<typeof readEnv>): Access {
  const authorizer = read.optional("AUTHORIZER") ?? "iam";
  const group = read.optional("REQUIRED_GROUP");
  const scope = read.optional("REQUIRED_SCOPE");
  if (scope !== undefined && !SCOPE.test(scope)) {
    read.problem(
      "REQUIRED_SCOPE",
      `is ${JSON.stringify(scope)}: set it to one OAuth scope, e.g. pia/rules.write`,
    );
  }
  if (authorizer === "iam") {
    if (group !== undefined || scope !== undefined) {
      read.problem(
        group === undefined ? "REQUIRED_SCOPE" : "REQUIRED_GROUP",
        "is set, but AUTHORIZER is iam, whose callers carry no groups or scopes: set AUTHORIZER=jwt, or leave it unset and grant execute-api:Invoke by IAM",
      );
    }
    return { authorizer };
  }
  if (authorizer !== "jwt") {
    read.problem(
      "AUTHORIZER",
      `is ${JSON.stringify(authorizer)}: set it to iam or jwt, as the HTTP API's routes are`,
    );
    return { authorizer: "iam" };
  }
  // A valid token alone is not enough: anyone the user pool lets sign up would have one.
  if (group === undefined && scope === undefined) return { authorizer, group: DEFAULT_EDITOR_GROUP };
  return { authorizer, ...(group === undefined ? {} : { group }), ...(scope === undefined ? {} : { scope }) };
}

/** `SIGN_IN_URL` (a Cognito domain, https) and `SIGN_IN_CLIENT_ID`: where the editor signs in. */
function readSignIn(read: ReturnType<typeof readEnv>, access: Access): SignIn | undefined {
  const url = read.optional("SIGN_IN_URL");
  const clientId = read.optional("SIGN_IN_CLIENT_ID");
  if (url === undefined && clientId === undefined) return undefined;
  let base: URL | undefined;
  try {
    base = new URL(url ?? "");
  } catch {
    base = undefined;
  }
  if (base === undefined || base.protocol !== "https:" || base.search !== "" || base.hash !== "") {
    read.problem(
      "SIGN_IN_URL",
      `is ${JSON.stringify(url ?? "")}: set it to the sign-in domain's https URL, e.g. https://DOMAIN.auth.REGION.amazoncognito.com (with SIGN_IN_CLIENT_ID), or leave both unset`,
    );
  }
  if (clientId === undefined) {
    read.problem(
      "SIGN_IN_CLIENT_ID",
      "is not set: set it to the app client id (the JWT authorizer's audience), or unset SIGN_IN_URL",
    );
  }
  if (base === undefined || clientId === undefined) return undefined;
  const root = base.href.replace(/\/+$/, "");
  const scope = access.authorizer === "jwt" && access.scope !== undefined ? ` ${access.scope}` : "";
  return {
    authorizeUrl: `${root}/oauth2/authorize`,
    tokenUrl: `${root}/oauth2/token`,
    clientId,
    scope: `openid email${scope}`,
  };
}

/** Reads and checks the environment once, at cold start; every problem is reported at once. */
export function loadConfig(env: Env): RulesApiConfig {
  const read = readEnv(env);
  const rulesTable = read.required("RULES_TABLE", "name of the rules table (TABLES.rules)");
  const origins = (read.optional("ALLOWED_ORIGIN") ?? "")
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  const bad = origins.filter((origin) => !isOrigin(origin));
  if (bad.length > 0) {
    read.problem(
      "ALLOWED_ORIGIN",
      `has ${bad.map((origin) => JSON.stringify(origin)).join(", ")}: set it to the web editor's origin (scheme, host and port, no path or trailing slash, e.g. https://rules.example.com), several separated by commas, or leave it unset for no CORS headers`,
    );
  }
  const eventsTable = read.optional("EVENTS_TABLE");
  const countersTable = read.optional("COUNTERS_TABLE");
  const previewDays = read.wholeNumber("PREVIEW_DAYS", DEFAULT_PREVIEW_DAYS, 1, MAX_PREVIEW_DAYS, "days");
  const previewMaxEvents = read.wholeNumber(
    "PREVIEW_MAX_EVENTS",
    DEFAULT_PREVIEW_MAX_EVENTS,
    1,
    MAX_PREVIEW_MAX_EVENTS,
    "events",
  );
  const access = readAccess(read);
  const signIn = readSignIn(read, access);
  read.done("rules");
  return {
    rulesTable,
    access,
    ...(signIn === undefined ? {} : { signIn }),
    allowedOrigins: origins,
    ...(eventsTable === undefined ? {} : { eventsTable }),
    ...(countersTable === undefined ? {} : { countersTable }),
    previewDays,
    previewMaxEvents,
  };
}
