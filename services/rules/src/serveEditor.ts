import { readFile } from "node:fs/promises";
import { isAbsolute, join, relative, resolve } from "node:path";
import { type ApiEvent, type ApiResult, jsonResult, requestPath } from "./httpApi.js";

/** The web editor's files (`editor/`), by request path: nothing else is ever read. */
export const EDITOR_FILES: Readonly<Record<string, { readonly file: string; readonly contentType: string }>> =
  {
    "/": { file: "index.html", contentType: "text/html; charset=utf-8" },
    "/index.html": { file: "index.html", contentType: "text/html; charset=utf-8" },
    "/editor.js": { file: "editor.js", contentType: "text/javascript; charset=utf-8" },
    "/editor.css": { file: "editor.css", contentType: "text/css; charset=utf-8" },
    "/signIn.js": { file: "signIn.js", contentType: "text/javascript; charset=utf-8" },
  };

/**
 * The page loads only its own script and style and talks only to its own origin (and, to sign
 * in, to the token endpoint's: `connectTo`); the headers say so, and that it may not be framed,
 * so injected markup or a hostile frame gets nowhere.
 */
export function editorHeaders(connectTo: readonly string[] = []): Readonly<Record<string, string>> {
  const connect = ["'self'", ...connectTo].join(" ");
  return {
    "content-security-policy": `default-src 'none'; script-src 'self'; style-src 'self'; connect-src ${connect}; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };
}

/** The editor's headers when it signs in nowhere (`pia local --ui`, IAM). */
export const EDITOR_HEADERS: Readonly<Record<string, string>> = editorHeaders();

/** Where the editor's files are: `EDITOR_DIR`, else `editor/` in the function's root (or the working directory). */
export function editorDir(env: Readonly<Record<string, string | undefined>>): string {
  const configured = env.EDITOR_DIR?.trim();
  if (configured !== undefined && configured !== "") return configured;
  return join(env.LAMBDA_TASK_ROOT ?? process.cwd(), "editor");
}

export interface ServeEditorOptions {
  /** The folder of `index.html`, `editor.js`, `signIn.js` and `editor.css` (default: `editorDir(process.env)`). */
  readonly dir?: string;
  readonly read?: (path: string) => Promise<Buffer>;
  /** Origins besides its own the page may fetch from: the sign-in domain's token endpoint. */
  readonly connectTo?: readonly string[];
}

/**
 * Serves the web editor: `GET /` (and `/index.html`), `/editor.js`, `/signIn.js` and `/editor.css` from one
 * folder, read once per instance. Answers `undefined` for every other request, which is the API's.
 */
export function makeServeEditor(options: ServeEditorOptions = {}) {
  const root = resolve(options.dir ?? editorDir(process.env));
  const read = options.read ?? ((path: string) => readFile(path));
  const cache = new Map<string, Promise<Buffer>>();
  const headers = editorHeaders(options.connectTo);

  return async (event: ApiEvent): Promise<ApiResult | undefined> => {
    const method = event.requestContext.http.method.toUpperCase();
    const asset = Object.hasOwn(EDITOR_FILES, requestPath(event))
      ? EDITOR_FILES[requestPath(event)]
      : undefined;
    if (asset === undefined || (method !== "GET" && method !== "HEAD")) return undefined;
    const path = resolve(root, asset.file);
    // The table above names files in the folder; this holds whatever it comes to hold.
    const inside = relative(root, path);
    if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) return undefined;
    let content = cache.get(path);
    if (content === undefined) {
      content = read(path);
      cache.set(path, content);
      // A failed read is not kept: the next request tries again.
      content.catch(() => cache.delete(path));
    }
    try {
      const body = await content;
      return {
        statusCode: 200,
        headers: { "content-type": asset.contentType, ...headers },
        body: method === "HEAD" ? "" : body.toString("utf8"),
      };
    } catch (error: unknown) {
      // The folder is not named: answers carry no internals.
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
      return jsonResult(missing ? 404 : 500, {
        message: `the web editor's ${asset.file} ${missing ? "is not deployed with" : "cannot be read by"} this function: package services/rules/editor with it, or set EDITOR_DIR to its folder`,
      });
    }
  };
}
