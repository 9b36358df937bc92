import type { EngineSummary, Notification } from "@pia/core";
import {
  Engine,
  type EventMapping,
  formatIssue,
  formatNotification,
  type InputFormat,
  recordReader,
} from "@pia/core";
import { loadRulesFile } from "./loadRulesFile.js";
import { NdjsonWriter } from "./NdjsonWriter.js";
import { startProgress } from "./progress.js";
import { readLines } from "./readLines.js";

export interface SimulateOptions {
  readonly rulesFile: string;
  readonly eventsFile: string;
  /** The records' format (default `auto`); `json` needs `mapping`. */
  readonly format?: InputFormat;
  readonly mapping?: EventMapping;
  /** NDJSON file for the notifications; stdout when absent. */
  readonly out?: string;
  /** Clock for closing rules, epoch ms. */
  readonly now: number;
  readonly stderr: NodeJS.WriteStream;
  readonly stdout: NodeJS.WritableStream & NodeJS.WriteStream;
}

export interface SimulateResult extends EngineSummary {
  /** Whitespace-only lines: not records, but counted so nothing disappears unseen. */
  readonly blankLines: number;
  readonly elapsedMs: number;
}

/**
 * `pia simulate`: the core engine over an NDJSON (or gzipped) export, streaming, in input order;
 * closing rules are decided after all input at `now`.
 */
export async function simulate(options: SimulateOptions): Promise<SimulateResult> {
  const started = performance.now();
  const { rules, warnings } = await loadRulesFile(options.rulesFile);
  for (const warning of warnings) options.stderr.write(`${formatIssue(warning, options.rulesFile)}\n`);
  const reader = recordReader({
    format: options.format ?? "auto",
    ...(options.mapping === undefined ? {} : { mapping: options.mapping }),
  });
  const engine = new Engine(rules, reader);
  const writer = new NdjsonWriter(options.out ?? options.stdout);
  const progress = startProgress(options.stderr, "records read");
  const emit = async (notifications: Notification[]) => {
    for (const notification of notifications) await writer.write(formatNotification(notification));
  };
  let blankLines = 0;
  let lines = 0;
  try {
    for await (const line of readLines(options.eventsFile)) {
      progress.tick(++lines);
      if (typeof line !== "string") {
        engine.skipUnread("too_large");
        continue;
      }
      if (line.trim() === "") {
        blankLines++;
        continue;
      }
      const fired = engine.ingest(line);
      if (fired.length > 0) await emit(fired);
    }
    await emit(engine.close(options.now));
  } finally {
    progress.stop();
    await writer.close();
  }
  return { ...engine.summary(), blankLines, elapsedMs: performance.now() - started };
}
