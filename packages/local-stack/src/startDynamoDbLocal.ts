import { type ChildProcess, execFile, spawn as spawnProcess } from "node:child_process";
import { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { freePort } from "./freePort.js";
import { LocalStackError } from "./LocalStackError.js";
import { type LoopbackLauncher, loopbackLauncher } from "./loopbackLauncher.js";
import { trackResource } from "./trackResource.js";

/** A running DynamoDB Local (in memory), reachable at `endpoint`. */
export interface DynamoDbLocal {
  readonly endpoint: string;
  /** The java process, for diagnostics. */
  readonly pid: number;
  /** Stops the process (SIGTERM, SIGKILL after 3 s) and resolves once it has exited; idempotent. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const KILL_AFTER_MS = 3_000;
const OUTPUT_LINES_KEPT = 20;
/** A port chosen by us can be taken by another process before java binds it: try a few. */
const PORT_ATTEMPTS = 3;
const INSTALL_JAVA = "install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless)";

/**
 * Starts AWS's DynamoDB Local (Streams, TTL, transactions) in memory on `port` of 127.0.0.1, or on
 * a free port chosen by the OS, and resolves once it answers `ListTables`. It listens on the
 * loopback only and allows no CORS origin: its tables hold user ids, and neither the network nor
 * a web page in the user's browser should reach them. The process is killed when this Node process
 * exits, even if `stop()` is never called.
 */
export async function startDynamoDbLocal(options: { port?: number } = {}): Promise<DynamoDbLocal> {
  await assertJava17();
  const launcher = await loopbackLauncher();
  for (let attempt = 1; ; attempt++) {
    // A given port is checked too: otherwise whatever already listens there would answer the
    // readiness poll while java fails to bind.
    const port = await freePort(options.port);
    const started = spawnJava(launcher, port);
    try {
      await waitUntilReady(started);
      return { endpoint: started.endpoint, pid: started.pid, stop: started.stop };
    } catch (error) {
      await started.stop();
      const portTaken = /BindException|Failed to bind/.test(started.stderrTail());
      if (portTaken && options.port === undefined && attempt < PORT_ATTEMPTS) continue;
      throw error;
    }
  }
}

interface SpawnedJava {
  readonly endpoint: string;
  readonly pid: number;
  /** Settles when the process has exited (or could not be spawned at all). */
  readonly exited: Promise<void>;
  hasExited(): boolean;
  /** Why the process could not be spawned, when it could not. */
  spawnError(): Error | undefined;
  stderrTail(): string;
  stop(): Promise<void>;
}

function spawnJava(launcher: LoopbackLauncher, port: number): SpawnedJava {
  // -sharedDb: one database whatever the credentials and region of a client, so a handler
  // configured from the environment sees the tables the stack created. No -cors: DynamoDB Local
  // 3.x then allows no origin (its help's "default is '*'" is not what 3.3 does; a test checks).
  const child = spawnProcess(
    "java",
    [...launcher.javaArgs, "-inMemory", "-port", String(port), "-sharedDb"],
    { cwd: launcher.dynamoDbLocalDir, env: withoutTelemetry(process.env), stdio: "pipe" },
  );
  let spawnError: Error | undefined;
  let exited = false;
  const stderrLines: string[] = [];
  // Both pipes are always drained: a full pipe would block java.
  child.stdout?.resume();
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderrLines.push(...chunk.split("\n").filter((line) => line.trim() !== ""));
    stderrLines.splice(0, Math.max(0, stderrLines.length - OUTPUT_LINES_KEPT));
  });

  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid);
  const untrack = trackResource({
    killNow: () => {
      child.kill("SIGKILL");
      watchdog?.kill("SIGKILL");
    },
  });
  const exitedPromise = new Promise<void>((resolve) => {
    const onGone = () => {
      exited = true;
      watchdog?.kill("SIGKILL");
      untrack();
      resolve();
    };
    child.once("exit", onGone);
    child.once("error", (error) => {
      spawnError = error;
      // Without a pid the process never ran, and no "exit" event will come.
      if (child.pid === undefined) onGone();
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (exited) return;
      child.kill("SIGTERM");
      const killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
      await exitedPromise;
      clearTimeout(killTimer);
    })();
    return stopping;
  };

  return {
    endpoint: `http://127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    exited: exitedPromise,
    hasExited: () => exited,
    spawnError: () => spawnError,
    stderrTail: () => stderrLines.join("\n"),
    stop,
  };
}

/**
 * DynamoDB Local sends usage telemetry to AWS unless told not to; a laptop stack, often offline,
 * should not (a value the user set is kept).
 */
function withoutTelemetry(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, DDB_LOCAL_TELEMETRY: env.DDB_LOCAL_TELEMETRY ?? "0" };
}

/**
 * `process.on("exit")` cannot run when this process is SIGKILLed (or killed by the OOM killer).
 * A shell that waits on a pipe from us sees it close when we die, however we die, and then
 * kills java. Best effort: where there is no /bin/sh the exit handlers alone remain.
 */
function startWatchdog(javaPid: number): ChildProcess | undefined {
  if (process.platform === "win32") return undefined;
  const watchdog = spawnProcess("/bin/sh", ["-c", `read _; kill -9 ${javaPid} 2>/dev/null`], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  watchdog.on("error", () => {});
  // The watchdog must not keep this process alive by itself.
  watchdog.unref();
  if (watchdog.stdin instanceof Socket) watchdog.stdin.unref();
  return watchdog;
}

async function waitUntilReady(java: SpawnedJava): Promise<void> {
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: java.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  try {
    while (true) {
      if (java.hasExited()) {
        const spawnError = java.spawnError();
        if (spawnError !== undefined) {
          throw new LocalStackError(
            `could not start java for DynamoDB Local (${spawnError.message}); ${INSTALL_JAVA}`,
          );
        }
        throw new LocalStackError(
          `DynamoDB Local exited before it was ready; its last output:\n${java.stderrTail() || "(none)"}`,
        );
      }
      try {
        // The SDK's requestTimeout only warns: abort, or a port that accepts and never answers
        // would hang the start for ever.
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(2_000) });
        return;
      } catch {
        // Not listening yet: poll again.
      }
      if (Date.now() > deadline) {
        throw new LocalStackError(
          `DynamoDB Local did not answer at ${java.endpoint} within ${READY_TIMEOUT_MS / 1000} s (a slow or busy machine? try again); its last output:\n${java.stderrTail() || "(none)"}`,
        );
      }
      await Promise.race([sleep(POLL_INTERVAL_MS), java.exited]);
    }
  } finally {
    client.destroy();
  }
}

/** Fails early, with what to install, instead of a java stack trace or an ENOENT. */
async function assertJava17(): Promise<void> {
  const { output, failure } = await new Promise<{ output: string; failure?: string }>((resolve) => {
    // `java -version` writes to stderr.
    execFile("java", ["-version"], { timeout: 10_000 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error === null) resolve({ output });
      else resolve({ output, failure: output.trim().split("\n")[0] || error.message });
    });
  });
  if (failure !== undefined) {
    throw new LocalStackError(
      `DynamoDB Local needs Java 17+, and \`java -version\` failed (${failure}): ${INSTALL_JAVA}`,
    );
  }
  // "17.0.15", or "1.8.0_402" for Java 8.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (match === null) return;
  const major = match[1] === "1" ? Number(match[2]) : Number(match[1]);
  if (major < 17) {
    throw new LocalStackError(
      `DynamoDB Local needs Java 17+, and \`java\` is Java ${major}: ${INSTALL_JAVA}`,
    );
  }
}
