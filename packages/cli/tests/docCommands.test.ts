import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

// Every command the READMEs and docs/*.md show must work as written. This test reads them (the
// lines of ```sh blocks, and inline `pnpm …`, `npm …`, `npx …` and `pia …` spans) and runs each:
// as written when it is offline and quick, else in its `--help` form (the program and subcommand as
// written, then `--help`), which must exit 0 and list every flag the docs show. A command that fits
// no rule below fails the test: a new documented command needs a decision here.
const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** Shown, and deliberately not run: each with the reason. */
const NOT_RUN: Readonly<Record<string, string>> = {
  "npm test": "the whole suite, this test included",
  "npm run demo":
    "a minute of DynamoDB Local on Java; its steps are `pia sample` and `pia local`, checked here",
  "npm run bootstrap": "reinstalls while the suite runs; npm test starts with it",
  "pnpm install": "reinstalls while the suite runs; npm test bootstraps with it anyway",
  "pnpm run check": "the whole suite, this test included",
  "pnpm run format": "rewrites files; `pnpm run check` runs the same Biome checks",
  "pnpm exec vitest run --project local-stack": "a test project of the suite (real processes, about 20 s)",
};

/** Offline and quick: run exactly as written (pnpm, npx and all), from the repository root. */
const AS_WRITTEN = new Set([
  "pnpm pia --help",
  "npx -y pnpm@10.34.9 pia --help",
  "pnpm run package -- --stage dev --stage prod --help",
]);

/** `pnpm` as the suite runs it (pnpm sets npm_execpath), else as the README says without a global pnpm. */
const PNPM = process.env.npm_execpath?.includes("pnpm")
  ? [process.execPath, process.env.npm_execpath]
  : ["npx", "-y", "pnpm@10.34.9"];

const SCRIPTS = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }
).scripts;

/**
 * A root script's command as pnpm runs it (its binaries from node_modules/.bin), without pnpm's own
 * start-up: several seconds a run on a loaded machine. AS_WRITTEN runs pnpm itself.
 */
function scriptArgv(name: string): string[] {
  const [binary, ...args] = (SCRIPTS[name] ?? "").split(/\s+/);
  if (binary === "node") return [process.execPath, ...args];
  return [join(ROOT, "node_modules/.bin", binary as string), ...args];
}

interface DocCommand {
  readonly file: string;
  readonly command: string;
}

function docFiles(): string[] {
  const readmes = ["packages", "services"].flatMap((folder) =>
    readdirSync(join(ROOT, folder)).map((name) => join(ROOT, folder, name, "README.md")),
  );
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join(ROOT, "docs", name));
  return [join(ROOT, "README.md"), ...readmes, ...docs].filter((file) => {
    try {
      readFileSync(file);
      return true;
    } catch {
      return false;
    }
  });
}

function extractCommands(file: string): DocCommand[] {
  const text = readFileSync(file, "utf8");
  const commands: string[] = [];
  for (const [, body] of text.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of (body ?? "").split("\n")) {
      const command = line.replace(/(^|\s)#.*$/, "").trim();
      if (command !== "") commands.push(command);
    }
  }
  const prose = text.replace(/^```[\s\S]*?^```/gm, "");
  for (const [, span] of prose.matchAll(/`((?:pnpm|npm|npx|pia) [^`]+)`/g))
    commands.push((span ?? "").trim());
  return commands.map((command) => ({ file: relative(ROOT, file), command }));
}

/**
 * The program as argv (pnpm and npx forms resolved to what they run) and the words after it, or
 * undefined when no rule knows the command.
 */
function programOf(command: string): { prefix: string[]; rest: string[] } | undefined {
  const words = command.split(/\s+/);
  const pia = /^(?:pia|pnpm pia|npx -y pnpm@10\.34\.9 pia|npx -y pnpm@10\.34\.9 run -s pia) /.exec(
    `${command} `,
  );
  if (pia !== null) return { prefix: scriptArgv("pia"), rest: words.slice(pia[0].trim().split(" ").length) };
  const script =
    /^pnpm (?:run )?(package|deploy|remove|bench:engine|bench:pipeline|bench:rolling|bench:backfill|bench:report|soak)\b/.exec(
      command,
    );
  if (script !== null)
    return { prefix: scriptArgv(script[1] as string), rest: words.slice(script[0].split(" ").length) };
  const tsx = /^node --import tsx (packages\/\S+\.ts)\b/.exec(command);
  if (tsx !== null)
    return { prefix: [process.execPath, "--import", "tsx", tsx[1] as string], rest: words.slice(4) };
  return undefined;
}

async function exec(argv: readonly string[]): Promise<{ code: number; output: string }> {
  const [file, ...args] = argv;
  try {
    const { stdout, stderr } = await run(file as string, args, {
      cwd: ROOT,
      env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
      maxBuffer: 16 << 20,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error: unknown) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === "number" ? failed.code : -1,
      output: `${failed.stdout}${failed.stderr}`,
    };
  }
}

const commands = docFiles().flatMap(extractCommands);
const toCheck = commands.filter(
  ({ command }) => !command.startsWith("export ") && NOT_RUN[command] === undefined,
);

/**
 * The `--help` runs: one per program and subcommand as written (`pia rules push`, `pnpm bench:engine`),
 * with every flag any doc shows for it and where each was shown.
 */
function helpChecks(): { argv: string[]; flags: Set<string>; shownIn: Set<string> }[] {
  const checks = new Map<string, { argv: string[]; flags: Set<string>; shownIn: Set<string> }>();
  for (const { file, command } of toCheck) {
    if (AS_WRITTEN.has(command)) continue;
    const program = programOf(command);
    if (program === undefined) continue;
    // The subcommand as written (`rules push`, `dlq list`): leading lowercase words, at most two.
    const subcommand: string[] = [];
    for (const word of program.rest) {
      if (subcommand.length === 2 || !/^[a-z]+$/.test(word)) break;
      subcommand.push(word);
    }
    // `--` before --help as the docs write it (pnpm passes it through, every script skips a leading
    // one); one run per program and subcommand, with or without it.
    const key = [...program.prefix, ...subcommand].join(" ");
    const separator = program.rest[0] === "--" ? ["--"] : [];
    const check = checks.get(key) ?? {
      argv: [...program.prefix, ...subcommand, ...separator, "--help"],
      flags: new Set<string>(),
      shownIn: new Set<string>(),
    };
    for (const word of program.rest) {
      const flag = /--[a-z][a-z-]*/.exec(word)?.[0];
      if (flag !== undefined) check.flags.add(flag);
    }
    check.shownIn.add(`${file}: ${command}`);
    checks.set(key, check);
  }
  return [...checks.values()];
}

describe("the commands the docs show", () => {
  it("are found, and each fits a rule of this test", () => {
    expect(commands.map(({ command }) => command)).toEqual(
      expect.arrayContaining([
        "npm run demo",
        "pnpm run package -- --stage dev --stage prod",
        "pnpm pia --help",
      ]),
    );
    const unknown = toCheck.filter(
      ({ command }) => !AS_WRITTEN.has(command) && programOf(command) === undefined,
    );
    expect(unknown).toEqual([]);
  });

  it.each([...AS_WRITTEN])("%s exits 0, run as written", async (command) => {
    const { code, output } = await exec(
      command.split(/\s+/).flatMap((word) => (word === "pnpm" ? PNPM : [word])),
    );
    expect(code, output).toBe(0);
  });

  it.each(helpChecks().map((check) => [check.argv.slice(1).join(" "), check] as const))(
    "%s exits 0 and lists every flag the docs show",
    async (_, { argv, flags, shownIn }) => {
      const { code, output } = await exec(argv);
      expect(code, output).toBe(0);
      const missing = [...flags].filter((flag) => !output.includes(flag));
      expect(missing, `shown in:\n${[...shownIn].join("\n")}\n${output}`).toEqual([]);
    },
  );
});
