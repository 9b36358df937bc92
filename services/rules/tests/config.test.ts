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
      allowedOrigins: ["https://rules.example.com", "http://localhost:5173"],
    });
  });

  it("has no allowed origin when ALLOWED_ORIGIN is unset", () => {
    expect(loadConfig({ RULES_TABLE: "t" }).allowedOrigins).toEqual([]);
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
});
