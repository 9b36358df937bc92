import { createServer } from "node:net";
import { LocalStackError } from "./LocalStackError.js";

/**
 * A TCP port that is free right now: `port` itself when it is free, or one chosen by the OS when
 * `port` is 0. Another process may take it before the caller binds it, so callers that spawn a
 * server on it retry when the bind fails.
 */
export function freePort(port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new LocalStackError(
              `port ${port} is already in use; stop what listens there or choose another port`,
            )
          : error,
      );
    });
    // No host: the port is checked on every interface, stricter than the loopback the servers bind,
    // so a port that something else holds on the wildcard address is never handed out.
    server.listen(port, () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === "object" && address !== null) resolve(address.port);
        else reject(new LocalStackError("the OS did not report the port it chose; start the stack again"));
      });
    });
  });
}
