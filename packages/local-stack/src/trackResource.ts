import { constants } from "node:os";

/** A process or server started by the local stack, which must not outlive this Node process. */
export interface TrackedResource {
  /**
   * Stops it at once, synchronously (e.g. SIGKILL): it runs inside `process.on("exit")`, where
   * nothing asynchronous happens any more.
   */
  killNow(): void;
}

const resources = new Set<TrackedResource>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;

function killAll(): void {
  for (const resource of resources) {
    try {
      resource.killNow();
    } catch {
      // The process is going down: one failure must not keep the others alive.
    }
  }
  resources.clear();
  removeHandlers();
}

function onExit(): void {
  killAll();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // A listener replaces Node's default of dying on the signal. If ours was the only one, die the
  // way the signal asked, so the parent (a shell, CI) sees an interrupted process (130 / 143).
  if (process.listenerCount(signal) > 0) return;
  process.kill(process.pid, signal);
  process.exit(128 + constants.signals[signal]);
}

function onUncaughtException(): void {
  // The monitor event leaves Node's crash behaviour alone (a plain `uncaughtException` listener
  // would swallow the crash). Kill only when the process is really going to die: a test runner's
  // own listener keeps it alive, and then the resources stay in use.
  if (process.listenerCount("uncaughtException") === 0) killAll();
}

function addHandlers(): void {
  process.on("exit", onExit);
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on("uncaughtExceptionMonitor", onUncaughtException);
}

function removeHandlers(): void {
  process.off("exit", onExit);
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off("uncaughtExceptionMonitor", onUncaughtException);
}

/**
 * Registers a started resource so it is killed when this process exits, is interrupted (SIGINT,
 * SIGTERM) or crashes. Returns the function to call once the resource has stopped; the process
 * handlers exist only while something is registered, so stopped stacks leave no listeners behind.
 */
export function trackResource(resource: TrackedResource): () => void {
  if (resources.size === 0) addHandlers();
  resources.add(resource);
  return () => {
    if (resources.delete(resource) && resources.size === 0) removeHandlers();
  };
}
