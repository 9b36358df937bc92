// Works out the HTTP API's authorizer and CORS from the deploy settings, for serverless.yml
// (`${file(./httpApi.cjs):...}`): YAML alone cannot pick between shapes.
//
// - PIA_JWT_ISSUER_URL + PIA_JWT_AUDIENCE (or --param jwtIssuerUrl / jwtAudience), e.g. a
//   Cognito user pool: a JWT authorizer, which the browser editor can use (Bearer token).
// - Neither: AWS_IAM, for callers that sign their requests (SigV4).
// - PIA_EDITOR_ORIGIN (or --param editorOrigin): CORS for an editor served from another origin;
//   without it, no CORS (the editor this API serves is same-origin).
function setting(options, param, env) {
  const fromParam = (options.param ?? []).map((p) => p.split("=")).find(([name]) => name === param);
  return (fromParam?.slice(1).join("=") ?? process.env[env] ?? "").trim();
}

module.exports = async ({ options }) => {
  const issuerUrl = setting(options, "jwtIssuerUrl", "PIA_JWT_ISSUER_URL");
  const audience = setting(options, "jwtAudience", "PIA_JWT_AUDIENCE");
  const origin = setting(options, "editorOrigin", "PIA_EDITOR_ORIGIN");
  if ((issuerUrl === "") !== (audience === "")) {
    throw new Error("pia-rules: set both PIA_JWT_ISSUER_URL and PIA_JWT_AUDIENCE, or neither (AWS_IAM)");
  }
  const jwt = issuerUrl !== "";
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
    authorizer: jwt ? { name: "jwt" } : { type: "aws_iam" },
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
  };
};
