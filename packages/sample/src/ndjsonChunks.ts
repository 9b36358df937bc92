/**
 * Joins lines into NDJSON chunks of about 64 KiB, so that a stream of millions of records is not
 * written one small string at a time (and never held in memory whole).
 */
export function* ndjsonChunks(lines: Iterable<string>): Generator<string> {
  let chunk = "";
  for (const line of lines) {
    chunk += `${line}\n`;
    if (chunk.length >= 65_536) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk !== "") yield chunk;
}
