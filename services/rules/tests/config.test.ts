import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("reads the table and the allowed origins", () => {
    expect(
      loadConfig({
        RULES_TABLE: " pia-prod-rules ",
        ALLOWED_ORIGIN: "https://rules.example.com, http://localhost:5173",
      }),
    ).toEqual({
      rulesTable: "pia-prod-rules",
      access: { authorizer: "iam" },
      allowedOrigins: ["https://rules.example.com", "http://localhost:5173"],
      previewDays: 30,
      previewMaxEvents: 200_000,
    });
  });

  it("has no allowed origin when ALLOWED_ORIGIN is unset", () => {
    expect(loadConfig({ RULES_TABLE: "t" }).allowedOrigins).toEqual([]);
  });

  it("reads the events and counters tables and the preview limits", () => {
    expect(
      loadConfig({
        RULES_TABLE: "t",
        EVENTS_TABLE: " pia-prod-events ",
        COUNTERS_TABLE: "pia-prod-counters",
        PREVIEW_DAYS: "400",
        PREVIEW_MAX_EVENTS: "1000",
      }),
    ).toEqual({
      rulesTable: "t",
      access: { authorizer: "iam" },
      allowedOrigins: [],
      eventsTable: "pia-prod-events",
      countersTable: "pia-prod-counters",
      previewDays: 400,
      previewMaxEvents: 1000,
    });
    expect(loadConfig({ RULES_TABLE: "t", EVENTS_TABLE: "" })).not.toHaveProperty("eventsTable");
    expect(loadConfig({ RULES_TABLE: "t", COUNTERS_TABLE: "" })).not.toHaveProperty("countersTable");
  });

  it.each([
    [
      { PREVIEW_DAYS: "0" },
      "PREVIEW_DAYS",
      /"0": set it to a whole number of days from 1 to 400, or leave it unset for 30/,
    ],
    [{ PREVIEW_DAYS: "401" }, "PREVIEW_DAYS", /from 1 to 400/],
    [
      { PREVIEW_MAX_EVENTS: "1e6" },
      "PREVIEW_MAX_EVENTS",
      /events from 1 to 1000000, or leave it unset for 200000/,
    ],
  ])("refuses %j", (env, variable, problem) => {
    let error: unknown;
    try {
      loadConfig({ RULES_TABLE: "t", ...env });
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ variable, problem: expect.stringMatching(problem) }]);
  });

  it("names every variable at fault at once", () => {
    let error: unknown;
    try {
      loadConfig({ ALLOWED_ORIGIN: "https://rules.example.com/, *, rules.example.com" });
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems } = error as ConfigError;
    expect(problems.map((problem) => problem.variable)).toEqual(["RULES_TABLE", "ALLOWED_ORIGIN"]);
    expect(problems[1]?.problem).toMatch(/"https:\/\/rules.example.com\/", "\*", "rules.example.com"/);
  });

  it.each([
    [{}, { authorizer: "iam" }],
    [{ AUTHORIZER: "jwt" }, { authorizer: "jwt", group: "pia-editors" }],
    [
      { AUTHORIZER: "jwt", REQUIRED_GROUP: "rule-admins" },
      { authorizer: "jwt", group: "rule-admins" },
    ],
    [
      { AUTHORIZER: "jwt", REQUIRED_SCOPE: "pia/rules.write" },
      { authorizer: "jwt", scope: "pia/rules.write" },
    ],
    [
      { AUTHORIZER: "jwt", REQUIRED_GROUP: "pia-editors", REQUIRED_SCOPE: "pia/rules.write" },
      { authorizer: "jwt", group: "pia-editors", scope: "pia/rules.write" },
    ],
  ])(
    "reads who may call the API from %j: a JWT needs a group or a scope, pia-editors by default",
    (env, access) => {
      expect(loadConfig({ RULES_TABLE: "t", ...env }).access).toEqual(access);
    },
  );

  it("reads where the editor signs in, asking for the required scope too", () => {
    const config = loadConfig({
      RULES_TABLE: "t",
      AUTHORIZER: "jwt",
      REQUIRED_SCOPE: "pia/rules.write",
      SIGN_IN_URL: "https://pia.auth.us-east-1.amazoncognito.com/",
      SIGN_IN_CLIENT_ID: "client-1",
    });
    expect(config.signIn).toEqual({
      authorizeUrl: "https://pia.auth.us-east-1.amazoncognito.com/oauth2/authorize",
      tokenUrl: "https://pia.auth.us-east-1.amazoncognito.com/oauth2/token",
      clientId: "client-1",
      scope: "openid email pia/rules.write",
    });
    expect(loadConfig({ RULES_TABLE: "t" })).not.toHaveProperty("signIn");
  });

  it.each([
    [{ AUTHORIZER: "cognito" }, "AUTHORIZER", /set it to iam or jwt/],
    [{ REQUIRED_GROUP: "pia-editors" }, "REQUIRED_GROUP", /AUTHORIZER is iam/],
    [{ AUTHORIZER: "jwt", REQUIRED_SCOPE: "a b" }, "REQUIRED_SCOPE", /one OAuth scope/],
    [{ SIGN_IN_URL: "http://pia.example.com", SIGN_IN_CLIENT_ID: "c" }, "SIGN_IN_URL", /https URL/],
    [{ SIGN_IN_URL: "https://pia.example.com" }, "SIGN_IN_CLIENT_ID", /app client id/],
  ])("refuses the access settings %j", (env, variable, problem) => {
    let error: unknown;
    try {
      loadConfig({ RULES_TABLE: "t", ...env });
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ variable, problem: expect.stringMatching(problem) }]);
  });
});
