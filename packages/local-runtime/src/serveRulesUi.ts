import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { userInfo } from "node:os";
import { dirname, join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildStageReader, lambdaContext } from "@pia/aws";
import { buildCollectHandler, COLLECT_ROUTES } from "@pia/collect";
import type { LocalStack } from "@pia/local-stack";
import {
  type ApiEvent,
  type ApiResult,
  buildEventsByType,
  buildRuleStore,
  buildRulesApiHandler,
  DEFAULT_EDITOR_GROUP,
  EDITOR_FILES,
  EDITOR_HEADERS,
  loadConfig,
} from "@pia/rules";

export interface RulesUiOptions {
  /** The running local stack: the API works on its tables. */
  readonly stack: Pick<LocalStack, "region" | "credentials" | "dynamoEndpoint" | "tableNames">;
  /** The port on localhost; 0 picks a free one. */
  readonly port: number;
  /** The API's clock: when changes are made, and the "today" of previews (default: the real time). */
  readonly now?: () => number;
  /** The folder of the editor's files (default: `editor/` of `@pia/rules`). */
  readonly editorDir?: string;
  /** Also serve the collection endpoint (`POST /v1/track`, `/v1/batch`) with this write key. */
  readonly collect?: LocalCollect;
}

/** The local collection endpoint: its write key, and where the calls go. */
export interface LocalCollect {
  /** The one key Basic auth accepts (Segment's form: the key as user name, no password). */
  readonly writeKey: string;
  /**
   * Puts the calls, one JSON record a line, as the stream would hand them to ingest; the
   * endpoint answers 200 once it has settled (`pia local`: fed and drained through the pipeline).
   */
  put(lines: readonly string[]): Promise<void>;
}

export interface RulesUi {
  /** `http://localhost:PORT/`: the editor; the API is under it (`/rules`, …). */
  readonly url: string;
  readonly port: number;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

function defaultEditorDir(): string {
  // @pia/rules exports src/index.ts; the editor is the package's editor/ folder.
  return join(dirname(createRequire(import.meta.url).resolve("@pia/rules")), "..", "editor");
}

/** Changes made through the local editor are recorded as by the local user. */
function localAuthor(): string {
  try {
    return `${userInfo().username} (pia local)`;
  } catch {
    return "pia local";
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** An HTTP API (payload format 2.0) event for a request, as API Gateway hands it to the Lambda. */
function toApiEvent(request: IncomingMessage, url: URL, body: Buffer, author: string): ApiEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  let rawPath: string;
  try {
    // API Gateway decodes the path before the Lambda sees it (a rule id's `#` arrives as `#`).
    rawPath = decodeURIComponent(url.pathname);
  } catch {
    throw new HttpError(400, `the path ${url.pathname} is not valid percent-encoding`);
  }
  const now = Date.now();
  const method = (request.method ?? "GET").toUpperCase();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.search === "" ? {} : { queryStringParameters: Object.fromEntries(url.searchParams) }),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "localhost",
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toISOString(),
      timeEpoch: now,
      // The local user is the editor: a token with the group the API requires, in the shape the
      // HTTP API gives a Cognito token's claims (arrays flattened to "[a b]").
      authorizer: {
        jwt: { claims: { sub: author, "cognito:groups": `[${DEFAULT_EDITOR_GROUP}]` }, scopes: [] },
      },
    },
    isBase64Encoded: false,
    ...(body.length === 0 ? {} : { body: body.toString("utf8") }),
  };
}

function send(response: ServerResponse, result: ApiResult): void {
  const headers = Object.fromEntries(
    Object.entries(result.headers ?? {}).map(([name, value]) => [name, String(value)]),
  );
  const body =
    result.body === undefined ? "" : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  response.writeHead(result.statusCode ?? 200, headers).end(body);
}

const sendJson = (response: ServerResponse, status: number, message: string) =>
  send(response, {
    statusCode: status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ message }),
  });

/**
 * Serves the rules editor and the rules API on http://localhost:PORT over a running local stack:
 * the real rules Lambda handler (`@pia/rules`), given each request as an HTTP API v2.0 event, on
 * the stack's rules table (and its events and counters tables, which previews and explaining a
 * user read). It listens on the loopback
 * interface only and refuses requests for another host (DNS rebinding) and changes sent from
 * another origin (a page elsewhere posting to localhost). With `collect`, it also serves the
 * collect Lambda's handler (`@pia/collect`) on `/v1/track` and `/v1/batch`.
 */
export async function serveRulesUi(options: RulesUiOptions): Promise<RulesUi> {
  const { stack } = options;
  const editorDir = options.editorDir ?? defaultEditorDir();
  const client = new DynamoDBClient({
    region: stack.region,
    credentials: stack.credentials,
    endpoint: stack.dynamoEndpoint,
  });
  const dynamodb = DynamoDBDocumentClient.from(client);
  const config = loadConfig({
    RULES_TABLE: stack.tableNames.rules,
    EVENTS_TABLE: stack.tableNames.events,
    COUNTERS_TABLE: stack.tableNames.counters,
    AUTHORIZER: "jwt",
  });
  // As the Lambda is wired (services/rules/src/handlers/api.ts), on the stack's tables.
  const handler = buildRulesApiHandler({
    config,
    store: buildRuleStore(dynamodb, { tableName: config.rulesTable }),
    readEventsByTypeDay: buildEventsByType(dynamodb, { tableName: stack.tableNames.events }),
    // Explaining a user reads the user's events and the rule's counter, as the Lambda does.
    stageReader: buildStageReader(dynamodb, {
      rules: stack.tableNames.rules,
      events: stack.tableNames.events,
      counters: stack.tableNames.counters,
    }),
    logger: new Logger({ serviceName: "pia-local-rules", logLevel: "ERROR" }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  // The collect Lambda's handler, the same checks and answers, with the calls put by `put`.
  const { collect } = options;
  const collectHandler =
    collect === undefined
      ? undefined
      : buildCollectHandler({
          readWriteKeys: async () => [collect.writeKey],
          putRecords: async (records) => {
            await collect.put(records.map((record) => record.data));
            return [];
          },
          putBudgetMs: 0,
          logger: new Logger({ serviceName: "pia-local-collect", logLevel: "ERROR" }),
        });
  const author = localAuthor();
  let port = options.port;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const hosts = [`localhost:${port}`, `127.0.0.1:${port}`];
    const host = request.headers.host ?? "";
    if (!hosts.includes(host)) {
      sendJson(response, 421, `this server answers for ${hosts.join(" and ")} only`);
      return;
    }
    const method = (request.method ?? "GET").toUpperCase();
    const origin = request.headers.origin;
    if (method !== "GET" && method !== "HEAD" && origin !== undefined && origin !== `http://${host}`) {
      sendJson(response, 403, `changes are accepted from the editor's own page only, not from ${origin}`);
      return;
    }
    const url = new URL(request.url ?? "/", `http://${host}`);
    // The same files and headers as the rules Lambda serves (services/rules/src/serveEditor.ts).
    const asset = Object.hasOwn(EDITOR_FILES, url.pathname) ? EDITOR_FILES[url.pathname] : undefined;
    if (asset !== undefined && (method === "GET" || method === "HEAD")) {
      // Read on every request: an edit of the editor shows at the next reload.
      const content = await readFile(join(editorDir, asset.file));
      response
        .writeHead(200, { "content-type": asset.contentType, ...EDITOR_HEADERS })
        .end(method === "HEAD" ? undefined : content);
      return;
    }
    const event = toApiEvent(request, url, await readBody(request), author);
    if (collectHandler !== undefined && Object.hasOwn(COLLECT_ROUTES, url.pathname)) {
      send(response, await collectHandler(event, lambdaContext("pia-local-collect")));
      return;
    }
    send(response, await handler(event, lambdaContext("pia-local-rules")));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else if (error instanceof HttpError) sendJson(response, error.status, error.message);
      else sendJson(response, 500, `the local rules server failed: ${String(error)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((error: unknown) => {
    client.destroy();
    throw error;
  });
  port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | undefined;
  return {
    url: `http://localhost:${port}/`,
    port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).finally(() => client.destroy());
      return closing;
    },
  };
}
