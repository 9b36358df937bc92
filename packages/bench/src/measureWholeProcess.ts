import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What `pnpm pia` runs: the built CLI, through its launcher (which checks the build is fresh). */
const PIA_LAUNCHER = fileURLToPath(new URL("../../cli/scripts/pia.mjs", import.meta.url));

/** The floor, as a whole process: read each line and `JSON.parse` it (as runParseOnly does). */
const PARSE_ONLY_SCRIPT = `
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
for await (const line of createInterface({ input: createReadStream(process.argv[1]), crlfDelay: Infinity })) {
  try { JSON.parse(line); } catch {}
}`;

export interface WholeProcessResult {
  /** Best wall time of `node pia.mjs simulate ...`, start to exit. */
  readonly cliSeconds: number;
  /** Best wall time of the bare `node` read-and-parse loop, start to exit. */
  readonly parseOnlySeconds: number;
  /** parse-only time / CLI time, i.e. the CLI's speed relative to the bare loop (goal >= 0.5). */
  readonly ratio: number;
  readonly rounds: number;
}

export interface WholeProcessOptions {
  readonly eventsFile: string;
  readonly rulesFile: string;
  readonly outFile: string;
  /** `--now` of the simulate run. */
  readonly now: string;
  readonly rounds: number;
  readonly log?: (line: string) => void;
}

/** Runs `node ...args` to completion; resolves with its wall time, rejects with its stderr on failure. */
function timeNode(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code === 0) resolve(seconds);
      else reject(new Error(`node ${args.join(" ")} exited ${code}:\n${stderr}`));
    });
  });
}

/**
 * Whole process against whole process, start-up included: `node pia.mjs simulate` over the file
 * against a bare `node` loop that reads the same file line by line and `JSON.parse`s each line;
 * alternating, best of `rounds` each (the machine's load moves single runs a lot). The launcher runs
 * once with `--help` first, so a stale build is rebuilt outside the timed runs.
 */
export async function measureWholeProcess(options: WholeProcessOptions): Promise<WholeProcessResult> {
  const { log = () => {} } = options;
  await timeNode([PIA_LAUNCHER, "--help"]);
  const simulate = [
    PIA_LAUNCHER,
    "simulate",
    "--rules",
    options.rulesFile,
    "--events",
    options.eventsFile,
    "--out",
    options.outFile,
    "--now",
    options.now,
  ];
  const parseOnly = ["--input-type=module", "-e", PARSE_ONLY_SCRIPT, options.eventsFile];
  let cliSeconds = Number.POSITIVE_INFINITY;
  let parseOnlySeconds = Number.POSITIVE_INFINITY;
  for (let round = 1; round <= options.rounds; round++) {
    const parsed = await timeNode(parseOnly);
    const cli = await timeNode(simulate);
    parseOnlySeconds = Math.min(parseOnlySeconds, parsed);
    cliSeconds = Math.min(cliSeconds, cli);
    log(
      `whole process, round ${round}: bare node loop ${parsed.toFixed(2)} s, pia simulate ${cli.toFixed(2)} s`,
    );
  }
  return { cliSeconds, parseOnlySeconds, ratio: parseOnlySeconds / cliSeconds, rounds: options.rounds };
}
