import { PassThrough } from "node:stream";
import { runCli } from "../src/runCli.js";

/** A stream standing in for stdout or stderr, and the text written to it. */
export function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

/** Runs `pia ARGV…` in process, at a fixed clock, and returns its exit code and output. */
export async function pia(...argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(argv, {
    stdout: stdout.stream,
    stderr: stderr.stream,
    now: () => Date.UTC(2030, 0, 1),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
