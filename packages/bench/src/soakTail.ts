import { open } from "node:fs/promises";

/** Reads what has been appended to a file since the last read, as whole lines. */
export class SoakTail {
  readonly #path: string;
  #offset = 0;
  /** Bytes after the last newline read: the start of a line still being written. */
  #partial = Buffer.alloc(0);

  constructor(path: string) {
    this.#path = path;
  }

  /** The lines appended since the last call (none while the file does not exist yet). */
  async readNewLines(): Promise<string[]> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.#path, "r");
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const fresh = Buffer.alloc(Math.max(0, size - this.#offset));
      const { bytesRead } = await handle.read(fresh, 0, fresh.length, this.#offset);
      this.#offset += bytesRead;
      const bytes = Buffer.concat([this.#partial, fresh.subarray(0, bytesRead)]);
      // Cut at the last newline only, so no line and no UTF-8 sequence is ever split.
      const end = bytes.lastIndexOf(0x0a) + 1;
      this.#partial = bytes.subarray(end);
      return bytes
        .toString("utf8", 0, end)
        .split("\n")
        .filter((line) => line !== "");
    } finally {
      await handle.close();
    }
  }
}
