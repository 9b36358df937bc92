import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { generateSampleEvents, ndjsonChunks, type SampleEventsOptions } from "@pia/sample";

/** Writes deterministic sample records as NDJSON to `file`, streamed: 10^6 events need no memory. */
export async function writeSampleEvents(file: string, options: SampleEventsOptions): Promise<void> {
  await pipeline(Readable.from(ndjsonChunks(generateSampleEvents(options))), createWriteStream(file));
}
