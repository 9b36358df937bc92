import type { WriteStream } from "node:tty";

/** A one-line counter on a terminal, at most every 200 ms; silent when stderr is not a TTY. */
export function showProgress(stream: NodeJS.WriteStream = process.stderr): {
  tick(label: string, n: number): void;
  stop(): void;
} {
  if (!(stream as WriteStream).isTTY) return { tick: () => {}, stop: () => {} };
  let last = 0;
  let shown = false;
  return {
    tick(label, n) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      shown = true;
      stream.write(`\r\u001b[2K${label} ${n.toLocaleString("en-US")}…`);
    },
    stop() {
      if (shown) stream.write("\r\u001b[2K");
    },
  };
}
