import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { EDITOR_FILES, editorDir, makeServeEditor } from "../src/serveEditor.js";
import { apiEvent } from "./events.js";

const EDITOR = fileURLToPath(new URL("../editor", import.meta.url));

describe("makeServeEditor", () => {
  const serve = makeServeEditor({ dir: EDITOR });

  it.each([
    ["/", "index.html", "text/html; charset=utf-8"],
    ["/index.html", "index.html", "text/html; charset=utf-8"],
    ["/editor.js", "editor.js", "text/javascript; charset=utf-8"],
    ["/editor.css", "editor.css", "text/css; charset=utf-8"],
    ["/signIn.js", "signIn.js", "text/javascript; charset=utf-8"],
  ])("serves GET %s from %s as %s, with a strict CSP", async (path, file, contentType) => {
    const result = await serve(apiEvent("GET", path));
    expect(result?.statusCode).toBe(200);
    expect(result?.headers?.["content-type"]).toBe(contentType);
    expect(result?.headers?.["content-security-policy"]).toContain("script-src 'self'");
    expect(result?.headers?.["x-content-type-options"]).toBe("nosniff");
    expect(result?.body).toBe(await readFile(join(EDITOR, file), "utf8"));
  });

  it("answers HEAD without a body, and serves under a named stage", async () => {
    const head = await serve(apiEvent("HEAD", "/editor.css"));
    expect(head).toMatchObject({ statusCode: 200, body: "" });
    expect(head?.headers?.["content-type"]).toBe("text/css; charset=utf-8");
    const staged = await serve(apiEvent("GET", "/editor.js", { stage: "prod" }));
    expect(staged?.headers?.["content-type"]).toBe("text/javascript; charset=utf-8");
  });

  it.each([
    ["GET", "/rules"],
    ["POST", "/"],
    ["PUT", "/editor.js"],
    ["GET", "/../package.json"],
    ["GET", "/editor/../../package.json"],
    ["GET", "/src/serveEditor.ts"],
    ["GET", "/constructor"],
    ["GET", "/editor.js/"],
  ])("leaves %s %s to the API (nothing but the editor's files is read)", async (method, path) => {
    const read = vi.fn(async () => Buffer.from("x"));
    expect(await makeServeEditor({ dir: EDITOR, read })(apiEvent(method, path))).toBeUndefined();
    expect(read).not.toHaveBeenCalled();
  });

  it("reads each file once per instance, and retries a failed read", async () => {
    let fail = true;
    const read = vi.fn(async (path: string) => {
      if (fail) throw Object.assign(new Error("EIO"), { code: "EIO" });
      return Buffer.from(path);
    });
    const serveOnce = makeServeEditor({ dir: "/srv/editor", read });
    const failed = await serveOnce(apiEvent("GET", "/"));
    expect(failed?.statusCode).toBe(500);
    fail = false;
    await serveOnce(apiEvent("GET", "/"));
    await serveOnce(apiEvent("GET", "/index.html"));
    expect(read.mock.calls).toEqual([["/srv/editor/index.html"], ["/srv/editor/index.html"]]);
  });

  it("answers 404 naming the fix, not the folder, when the editor is not deployed", async () => {
    const result = await makeServeEditor({ dir: join(EDITOR, "missing") })(apiEvent("GET", "/editor.js"));
    expect(result?.statusCode).toBe(404);
    expect(JSON.parse(result?.body ?? "{}").message).toMatch(/editor\.js is not deployed.*EDITOR_DIR/);
    expect(result?.body).not.toContain(EDITOR);
  });

  it("lets the page fetch from its own origin only, and from the sign-in domain when told so", async () => {
    const policy = async (serveWith: ReturnType<typeof makeServeEditor>) =>
      (await serveWith(apiEvent("GET", "/")))?.headers?.["content-security-policy"];
    expect(await policy(serve)).toContain("connect-src 'self';");
    const signingIn = makeServeEditor({
      dir: EDITOR,
      connectTo: ["https://pia.auth.us-east-1.amazoncognito.com"],
    });
    expect(await policy(signingIn)).toContain(
      "connect-src 'self' https://pia.auth.us-east-1.amazoncognito.com;",
    );
  });

  it("serves every file the page loads (index.html's references and editor.js's imports)", async () => {
    const script = await readFile(join(EDITOR, "editor.js"), "utf8");
    const imports = [...script.matchAll(/^import .* from "\.\/([^"]+)";$/gm)].map((match) => `/${match[1]}`);
    expect(imports).toEqual(["/signIn.js"]);
    for (const ref of imports) expect(Object.keys(EDITOR_FILES)).toContain(ref);
  });

  it("serves every file index.html refers to", async () => {
    const html = await readFile(join(EDITOR, "index.html"), "utf8");
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
      .map((match) => match[1] ?? "")
      .filter((ref) => !ref.startsWith("data:"))
      .map((ref) => `/${ref}`);
    expect(refs.sort()).toEqual(["/editor.css", "/editor.js"]);
    for (const ref of refs) expect(Object.keys(EDITOR_FILES)).toContain(ref);
  });
});

describe("editorDir", () => {
  it.each([
    [{ EDITOR_DIR: "/opt/editor", LAMBDA_TASK_ROOT: "/var/task" }, "/opt/editor"],
    [{ EDITOR_DIR: " ", LAMBDA_TASK_ROOT: "/var/task" }, "/var/task/editor"],
    [{}, join(process.cwd(), "editor")],
  ])("%o -> %s", (env, expected) => {
    expect(editorDir(env)).toBe(expected);
  });
});
