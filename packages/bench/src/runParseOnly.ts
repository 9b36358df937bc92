import { readLines } from "./readLines.js";

/** The floor the engine is compared with: read each line and `JSON.parse` it. */
export async function runParseOnly(file: string): Promise<{ lines: number; seconds: number }> {
  const started = performance.now();
  let lines = 0;
  for await (const line of readLines(file)) {
    lines++;
    try {
      JSON.parse(line);
    } catch {
      // Malformed sample lines are part of the input; the engine pays for them too.
    }
  }
  return { lines, seconds: (performance.now() - started) / 1000 };
}
