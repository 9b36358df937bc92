import { createHash, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { Logger } from "@aws-lambda-powertools/logger";
import { lambdaContext } from "@pia/aws";
import {
  type ApiEvent,
  buildRulesApiHandler,
  EDITOR_FILES,
  editorHeaders,
  type RuleStore,
  type SignIn,
} from "@pia/rules";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

// The rules editor's sign-in (services/rules/editor/signIn.js) in Debian's Chromium, against the
// real rules handler behind a stand-in for API Gateway's JWT authorizer (401 without the token
// it issued, the token's claims with the group otherwise) and a stand-in for Cognito's
// authorize and token endpoints that does what Cognito does with PKCE: it issues the token only
// for the code's verifier, whose S256 challenge came with the authorize request.

const CHROMIUM = "/usr/bin/chromium";
const EDITOR = fileURLToPath(new URL("../../../services/rules/editor/", import.meta.url));
const CODE = "code-from-the-provider";
const TOKEN = "access-token-for-bob";
const CLIENT_ID = "pia-editor-client";

const missingChromium = existsSync(CHROMIUM)
  ? undefined
  : `the editor's sign-in browser test needs Chromium at ${CHROMIUM}, which is missing: install Debian's chromium (sudo apt-get install chromium, or scripts/ensure-chromium.sh)`;

let server: Server;
let base: string;
let browser: Browser | undefined;
/** What the provider was asked: each authorize request's query, each token request's form. */
const authorizeRequests: URLSearchParams[] = [];
const tokenRequests: URLSearchParams[] = [];
/** The Authorization header of every API request the "authorizer" saw. */
const apiAuthorizations: (string | undefined)[] = [];

const base64Url = (bytes: Buffer) => bytes.toString("base64url");

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

/** Cognito's token endpoint for a public client: the code, for its verifier, once. */
function answerToken(form: URLSearchParams): { status: number; body: unknown } {
  const asked = authorizeRequests.at(-1);
  const verifier = form.get("code_verifier") ?? "";
  const matches =
    asked !== undefined &&
    form.get("grant_type") === "authorization_code" &&
    form.get("client_id") === CLIENT_ID &&
    form.get("code") === CODE &&
    form.get("redirect_uri") === asked.get("redirect_uri") &&
    asked.get("code_challenge_method") === "S256" &&
    base64Url(createHash("sha256").update(verifier).digest()) === asked.get("code_challenge");
  return matches
    ? {
        status: 200,
        body: { access_token: TOKEN, id_token: "id-token", token_type: "Bearer", expires_in: 3600 },
      }
    : { status: 400, body: { error: "invalid_grant" } };
}

function apiEvent(request: IncomingMessage, url: URL, body: string, authorizer: unknown): ApiEvent {
  const headers = Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) =>
      typeof value === "string" ? [[name, value]] : [],
    ),
  );
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "local",
      domainName: url.host,
      domainPrefix: "localhost",
      http: {
        method: request.method ?? "GET",
        path: url.pathname,
        protocol: "HTTP/1.1",
        sourceIp: "127.0.0.1",
        userAgent: "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
      ...(authorizer === undefined ? {} : { authorizer }),
    },
    isBase64Encoded: false,
    ...(body === "" ? {} : { body }),
  };
}

beforeEach(() => {
  if (missingChromium !== undefined) throw new Error(missingChromium);
});

beforeAll(async () => {
  if (missingChromium !== undefined) return;
  let handler: ReturnType<typeof buildRulesApiHandler> | undefined;
  server = createServer((request, response: ServerResponse) => {
    const respond = async () => {
      const url = new URL(request.url ?? "/", base);
      const method = request.method ?? "GET";
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        response
          .writeHead(status, { "content-type": "application/json", ...headers })
          .end(JSON.stringify(body));
      if (url.pathname === "/oauth2/authorize") {
        authorizeRequests.push(url.searchParams);
        const back = new URL(url.searchParams.get("redirect_uri") ?? base);
        back.search = new URLSearchParams({
          code: CODE,
          state: url.searchParams.get("state") ?? "",
        }).toString();
        response.writeHead(302, { location: back.href }).end();
        return;
      }
      if (url.pathname === "/oauth2/token" && method === "POST") {
        const form = new URLSearchParams(await readBody(request));
        tokenRequests.push(form);
        const { status, body } = answerToken(form);
        json(status, body);
        return;
      }
      const asset = Object.hasOwn(EDITOR_FILES, url.pathname) ? EDITOR_FILES[url.pathname] : undefined;
      if (asset !== undefined) {
        const content = await readFile(`${EDITOR}${asset.file}`);
        response.writeHead(200, { "content-type": asset.contentType, ...editorHeaders() }).end(content);
        return;
      }
      // API Gateway's JWT authorizer on ANY /rules, /rules/{proxy+}; the rest is open.
      apiAuthorizations.push(request.headers.authorization);
      const guarded = url.pathname.startsWith("/rules") && method !== "OPTIONS";
      const signedIn = request.headers.authorization === `Bearer ${TOKEN}`;
      if (guarded && !signedIn) {
        json(401, { message: "Unauthorized" });
        return;
      }
      const claims = {
        sub: "sub-bob",
        username: "bob",
        client_id: CLIENT_ID,
        "cognito:groups": "[pia-editors]",
      };
      const event = apiEvent(
        request,
        url,
        await readBody(request),
        guarded ? { jwt: { claims, scopes: null } } : undefined,
      );
      const result = await (handler as NonNullable<typeof handler>)(event, lambdaContext("pia-rules-signin"));
      const headers = Object.fromEntries(
        Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]),
      );
      response.writeHead(result.statusCode ?? 200, headers).end(result.body ?? "");
    };
    respond().catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signIn: SignIn = {
    authorizeUrl: `${base}/oauth2/authorize`,
    tokenUrl: `${base}/oauth2/token`,
    clientId: CLIENT_ID,
    scope: "openid email",
  };
  const store = { list: async () => [] } as unknown as RuleStore;
  handler = buildRulesApiHandler({
    config: {
      rulesTable: "unused",
      access: { authorizer: "jwt", group: "pia-editors" },
      allowedOrigins: [],
      signIn,
    },
    store,
    logger: new Logger({ serviceName: "pia-rules-signin", logLevel: "ERROR" }),
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
});

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await (browser as Browser).newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  return { page, errors };
}

describe("the editor's sign-in in Chromium", () => {
  it("signs in with the code flow and PKCE, checks state, and calls the API with the access token", async () => {
    const { page, errors } = await newPage();
    await page.goto(`${base}/`);
    const signInButton = page.getByRole("button", { name: "Sign in", exact: true });
    await signInButton.waitFor();
    expect(await page.locator("#status").textContent()).toContain("not signed in: use Sign in above");

    await signInButton.click();
    await expect.poll(() => tokenRequests.length, { timeout: 15_000 }).toBe(1);
    await expect.poll(() => apiAuthorizations.includes(`Bearer ${TOKEN}`), { timeout: 15_000 }).toBe(true);

    const [asked] = authorizeRequests;
    expect(Object.fromEntries(asked ?? [])).toEqual({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: `${base}/`,
      scope: "openid email",
      state: expect.stringMatching(/^[\w-]{22,}$/),
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      code_challenge_method: "S256",
    });
    // The verifier never left the page before the token request, and matches the challenge.
    const verifier = tokenRequests[0]?.get("code_verifier") ?? "";
    expect(verifier).toMatch(/^[\w-]{43,128}$/);
    expect(asked?.toString()).not.toContain(verifier);
    expect(base64Url(createHash("sha256").update(verifier).digest())).toBe(asked?.get("code_challenge"));

    // Back on the page: the code is gone from the address, nothing pending, the API answers.
    await expect.poll(() => page.url()).toBe(`${base}/`);
    expect(await page.evaluate('sessionStorage.getItem("pia.signIn")')).toBeNull();
    await expect.poll(async () => page.locator("#status").textContent()).not.toContain("not signed in");
    expect(await signInButton.isHidden()).toBe(true);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.each([
    ["without a sign-in started in this tab", undefined],
    ["with another state than the one this tab sent", { state: "the-real-state", verifier: "v".repeat(43) }],
  ])("refuses a returned code %s, without exchanging it", async (_, pending) => {
    const { page } = await newPage();
    const before = tokenRequests.length;
    await page.goto(`${base}/sign-in.json`);
    if (pending !== undefined) {
      const stored = JSON.stringify({ ...pending, redirectUri: `${base}/` });
      await page.evaluate(`sessionStorage.setItem("pia.signIn", ${JSON.stringify(stored)})`);
    }
    await page.goto(`${base}/?code=${CODE}&state=forged`);
    await expect
      .poll(async () => page.locator("#status").textContent())
      .toContain("was not asked for by this tab (its state does not match)");
    expect(tokenRequests.length).toBe(before);
    expect(page.url()).toBe(`${base}/`);
    expect(await page.evaluate('sessionStorage.getItem("pia.token")')).toBeNull();
    await page.close();
  });

  it("computes the S256 challenge of RFC 7636's example verifier with Web Crypto", async () => {
    const { page } = await newPage();
    await page.goto(`${base}/`);
    // A string, so that the test's own transform leaves the page's import() alone.
    const challenge = await page.evaluate(
      'import("/signIn.js").then(({ codeChallenge }) => codeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))',
    );
    expect(challenge).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    await page.close();
  });
});
