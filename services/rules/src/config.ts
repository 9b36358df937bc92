import { type Env, readEnv } from "@pia/aws";

export { ConfigError } from "@pia/aws";

export interface RulesApiConfig {
  readonly rulesTable: string;
  /** Browser origins (`https://host[:port]`) allowed to call the API; empty: no CORS headers. */
  readonly allowedOrigins: readonly string[];
}

/** `https://editor.example.com` as a browser sends it in `Origin`: scheme, host and port only. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || url.protocol === "http:") && url.origin === text;
  } catch {
    return false;
  }
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
  read.done("rules");
  return { rulesTable, allowedOrigins: origins };
}
