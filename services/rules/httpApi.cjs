// Works out the HTTP API's authorizer, CORS and the API's access settings from the deploy
// settings, for serverless.yml (`${file(./httpApi.cjs):...}`): YAML alone cannot pick between shapes.
//
// - PIA_JWT_ISSUER_URL + PIA_JWT_AUDIENCE (or --param jwtIssuerUrl / jwtAudience), e.g. a
//   Cognito user pool and app client: a JWT authorizer, which the browser editor can use (Bearer
//   token). API Gateway checks only the issuer, audience and expiry, so the API also requires
//   PIA_EDITOR_GROUP (editorGroup; default pia-editors) in the token's cognito:groups, or, when
//   PIA_EDITOR_SCOPE (editorScope) is set, that scope (checked by API Gateway too), or both when
//   both are set.
// - PIA_SIGN_IN_URL (signInUrl): the Cognito domain the editor signs in at (authorization code
//   flow with PKCE), e.g. https://DOMAIN.auth.REGION.amazoncognito.com; the audience is its client.
// - Neither issuer nor audience: AWS_IAM, for callers that sign their requests (SigV4).
// - PIA_EDITOR_ORIGIN (or --param editorOrigin): CORS for an editor served from another origin;
//   without it, no CORS (the editor this API serves is same-origin).
const DEFAULT_EDITOR_GROUP = "pia-editors";

function setting(options, param, env) {
  const fromParam = (options.param ?? []).map((p) => p.split("=")).find(([name]) => name === param);
  return (fromParam?.slice(1).join("=") ?? process.env[env] ?? "").trim();
}

module.exports = async ({ options }) => {
  const issuerUrl = setting(options, "jwtIssuerUrl", "PIA_JWT_ISSUER_URL");
  const audience = setting(options, "jwtAudience", "PIA_JWT_AUDIENCE");
  const origin = setting(options, "editorOrigin", "PIA_EDITOR_ORIGIN");
  const group = setting(options, "editorGroup", "PIA_EDITOR_GROUP");
  const scope = setting(options, "editorScope", "PIA_EDITOR_SCOPE");
  const signInUrl = setting(options, "signInUrl", "PIA_SIGN_IN_URL");
  if ((issuerUrl === "") !== (audience === "")) {
    throw new Error("pia-rules: set both PIA_JWT_ISSUER_URL and PIA_JWT_AUDIENCE, or neither (AWS_IAM)");
  }
  const jwt = issuerUrl !== "";
  if (!jwt && (group !== "" || scope !== "" || signInUrl !== "")) {
    throw new Error(
      "pia-rules: PIA_EDITOR_GROUP, PIA_EDITOR_SCOPE and PIA_SIGN_IN_URL need the JWT authorizer: set PIA_JWT_ISSUER_URL and PIA_JWT_AUDIENCE too",
    );
  }
  return {
    authorizers: jwt
      ? {
          jwt: {
            type: "jwt",
            identitySource: "$request.header.Authorization",
            issuerUrl,
            audience: [audience],
          },
        }
      : {},
    authorizer: jwt ? { name: "jwt", ...(scope === "" ? {} : { scopes: [scope] }) } : { type: "aws_iam" },
    cors:
      origin === ""
        ? false
        : {
            allowedOrigins: [origin],
            allowedHeaders: ["Content-Type", "Authorization", "If-Match"],
            allowedMethods: ["GET", "POST", "PUT", "DELETE"],
            exposedResponseHeaders: ["ETag", "Location"],
            maxAge: 600,
          },
    allowedOrigin: origin,
    // The function's own check of the same (src/config.ts): a valid token alone is not enough.
    authorizerType: jwt ? "jwt" : "iam",
    requiredGroup: jwt ? group || (scope === "" ? DEFAULT_EDITOR_GROUP : "") : "",
    requiredScope: scope,
    signInUrl,
    signInClientId: signInUrl === "" ? "" : audience,
  };
};
