import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

async function exitOf(script: string, args: readonly string[]): Promise<{ code: number; stderr: string }> {
  const file = fileURLToPath(new URL(`../src/${script}`, import.meta.url));
  try {
    await run(process.execPath, ["--import", TSX, file, ...args]);
    return { code: 0, stderr: "" };
  } catch (error: unknown) {
    const failed = error as { code?: number; stderr?: string };
    return { code: failed.code ?? -1, stderr: failed.stderr ?? "" };
  }
}

describe("bad flags", () => {
  it.each([
    ["pipeline.ts", ["--events", "lots"], /--events must be a whole number >= 1, got "lots"/],
    ["engine.ts", ["--", "--rules", "0"], /--rules must be a whole number >= 1/],
    ["engineCell.ts", [], /--events-file is required/],
    ["rolling.ts", ["--days", "0"], /--days must be a whole number >= 1/],
  ])("%s %j exits 2 with a message, before any work", async (script, args, message) => {
    const { code, stderr } = await exitOf(script, args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
