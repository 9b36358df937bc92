import type { WriteStream } from "node:tty";

/** A one-line counter on a terminal; silent when stderr is not a TTY (CI, pipes, files). */
export function startProgress(
  stream: NodeJS.WriteStream,
  label: string,
): { tick(n: number): void; stop(): void } {
  if (!(stream as WriteStream).isTTY) return { tick: () => {}, stop: () => {} };
  let last = 0;
  let shown = false;
  return {
    tick(n) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      stream.write(`\r${label} ${n.toLocaleString("en-US")}…`);
    },
    stop() {
      if (shown) stream.write("\r\u001b[2K");
    },
  };
}
