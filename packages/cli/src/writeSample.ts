import { createWriteStream } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import {
  generateSampleEvents,
  generateSampleRulesCsv,
  ndjsonChunks,
  type SampleFormat,
  type SampleRulesOptions,
} from "@pia/sample";

export interface WriteSampleOptions {
  readonly users: number;
  readonly events: number;
  readonly seed: number;
  readonly rules?: number;
  readonly gzip?: boolean;
  /** `pinpoint` (default) or `segment`: the same events in either form. */
  readonly format?: SampleFormat;
}

/**
 * Writes `events.ndjson` (or `events.ndjson.gz`) and `rules.csv` into `dir` (created if needed).
 * Events are streamed with backpressure: memory does not grow with the number of events.
 */
export async function writeSample(
  dir: string,
  options: WriteSampleOptions,
): Promise<{ eventsFile: string; rulesFile: string }> {
  await mkdir(dir, { recursive: true });
  const eventsFile = join(dir, options.gzip === true ? "events.ndjson.gz" : "events.ndjson");
  const rulesFile = join(dir, "rules.csv");
  const lines = generateSampleEvents({
    users: options.users,
    events: options.events,
    seed: options.seed,
    ...(options.format === undefined ? {} : { format: options.format }),
  });
  const source = Readable.from(ndjsonChunks(lines), { objectMode: false });
  const sink = createWriteStream(eventsFile);
  if (options.gzip === true) await pipeline(source, createGzip(), sink);
  else await pipeline(source, sink);
  const rulesOptions: SampleRulesOptions =
    options.rules === undefined ? { seed: options.seed } : { rules: options.rules, seed: options.seed };
  await writeFile(rulesFile, generateSampleRulesCsv(rulesOptions));
  return { eventsFile, rulesFile };
}
