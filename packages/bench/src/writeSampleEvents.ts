import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { generateSampleEvents, type SampleEventsOptions } from "@pia/sample";

/** Joins lines into ~64 KiB chunks so the stream is not driven one small string at a time. */
function* chunked(lines: Iterable<string>): Generator<string> {
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

/** Writes deterministic sample records as NDJSON to `file`, streamed: 10^6 events need no memory. */
export async function writeSampleEvents(file: string, options: SampleEventsOptions): Promise<void> {
  await pipeline(Readable.from(chunked(generateSampleEvents(options))), createWriteStream(file));
}
