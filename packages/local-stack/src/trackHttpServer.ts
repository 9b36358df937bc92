import type { Server } from "node:http";
import { LocalStackError } from "./LocalStackError.js";
import { trackResource } from "./trackResource.js";

/** A listening local server: where it answers, and how to stop it. */
export interface TrackedHttpServer {
  readonly endpoint: string;
  /** Closes the server and its connections; idempotent. */
  stop(): Promise<void>;
}

/**
 * Takes a server already listening on 127.0.0.1 into the stack's care: it is closed with the Node
 * process (exit, Ctrl-C) even when `stop()` is never reached. `name` says which server in errors.
 */
export function trackHttpServer(server: Server, name: string): TrackedHttpServer {
  const address = server.address();
  if (typeof address !== "object" || address === null) {
    server.close();
    throw new LocalStackError(`the local ${name} server did not report its port; start it again`);
  }
  const close = (done: (error?: Error) => void) => {
    server.close(done);
    // Clients keep connections alive; without this, close() would wait for them to time out.
    server.closeAllConnections();
  };
  const untrack = trackResource({ killNow: () => close(() => {}) });
  let stopping: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: () => {
      stopping ??= new Promise<void>((resolve, reject) => {
        close((error) => {
          untrack();
          // Already closed (by the exit handlers) is stopped.
          const code = (error as NodeJS.ErrnoException | undefined)?.code;
          if (error === undefined || code === "ERR_SERVER_NOT_RUNNING") resolve();
          else reject(error);
        });
      });
      return stopping;
    },
  };
}
