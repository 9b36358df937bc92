import { createSqsServer } from "local-aws-sqs";
import { LocalStackError } from "./LocalStackError.js";
import { trackResource } from "./trackResource.js";

/** A running in-process SQS API (`local-aws-sqs`), reachable at `endpoint`. */
export interface LocalSqs {
  readonly endpoint: string;
  /** Closes the server and its connections; idempotent. */
  stop(): Promise<void>;
}

/** Starts a local SQS API on a free port of 127.0.0.1 (queue URLs point there too). */
export async function startLocalSqs(): Promise<LocalSqs> {
  const server = await createSqsServer({
    port: 0,
    hostname: "127.0.0.1",
    // A stack that deletes and recreates its queues must not wait the 60 s AWS imposes.
    emulateQueueCreationLifecycle: false,
  });
  const address = server.address();
  if (typeof address !== "object" || address === null) {
    server.close();
    throw new LocalStackError("the local SQS server did not report its port; start the stack again");
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
