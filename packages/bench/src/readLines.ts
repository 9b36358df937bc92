import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

/** The lines of a text file, streamed (memory does not grow with the file). */
export function readLines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
}
