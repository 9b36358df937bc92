import { createSqsServer } from "local-aws-sqs";
import { type TrackedHttpServer, trackHttpServer } from "./trackHttpServer.js";

/** A running in-process SQS API (`local-aws-sqs`), reachable at `endpoint`. */
export type LocalSqs = TrackedHttpServer;

/** Starts a local SQS API on a free port of 127.0.0.1 (queue URLs point there too). */
export async function startLocalSqs(): Promise<LocalSqs> {
  const server = await createSqsServer({
    port: 0,
    hostname: "127.0.0.1",
    // A stack that deletes and recreates its queues must not wait the 60 s AWS imposes.
    emulateQueueCreationLifecycle: false,
  });
  return trackHttpServer(server, "SQS");
}
