import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";

/** Writes lines to a file (or an already open stream such as stdout), respecting backpressure. */
export class NdjsonWriter {
  readonly #stream: Writable;
  readonly #owned: boolean;

  constructor(target: string | Writable) {
    this.#owned = typeof target === "string";
    this.#stream = typeof target === "string" ? createWriteStream(target) : target;
  }

  async write(line: string): Promise<void> {
    if (!this.#stream.write(`${line}\n`)) await once(this.#stream, "drain");
  }

  async close(): Promise<void> {
    if (!this.#owned) return;
    this.#stream.end();
    await finished(this.#stream);
  }
}
