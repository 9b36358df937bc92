import type { RecordOutcome } from "./event.js";
import type { EventMapping } from "./parseEventMapping.js";
import { readPinpointRecord } from "./parseRecord.js";
import { readMappedRecord } from "./readMappedRecord.js";
import { isSegmentBatch, readSegmentRecord } from "./readSegmentCall.js";
import { isObject, isTooLarge, LineFacts, skipped, TOO_LARGE_DETAIL } from "./recordText.js";

/** The input formats (docs/rules.md, "Other input formats"); `auto` tells Pinpoint and Segment apart per record. */
export const INPUT_FORMATS = ["auto", "pinpoint", "segment", "json"] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export interface RecordReaderOptions {
  /** Default `auto`. */
  readonly format?: InputFormat;
  /** Required with `json`, refused with any other format. */
  readonly mapping?: EventMapping;
}

/** Reads lines of one input format; every format gives the same `PiaEvent` and the same outcomes. */
export interface RecordReader {
  readonly format: InputFormat;
  /**
   * The records of one line, in order: one outcome, or one per call of a Segment batch envelope.
   * Checks the size limit first (`too_large`), then JSON (`bad_json`), then the format's checks in
   * the order of docs/rules.md section 2; never throws on any input. De-duplication is the caller's.
   */
  read(line: string): RecordOutcome[];
}

function readAuto(record: Record<string, unknown>, facts: LineFacts): RecordOutcome[] {
  if (Object.hasOwn(record, "event_type")) return [readPinpointRecord(record, facts)];
  if (Object.hasOwn(record, "type") || isSegmentBatch(record)) return readSegmentRecord(record, facts);
  return [
    skipped("bad_event", "neither a Pinpoint record (no event_type) nor a Segment call (no type, no batch)"),
  ];
}

/**
 * The reader of a format. Throws (a caller's mistake, not bad input) when `json` comes without a
 * mapping or a mapping with another format.
 */
export function recordReader(options: RecordReaderOptions = {}): RecordReader {
  const format = options.format ?? "auto";
  const { mapping } = options;
  if (format === "json" && mapping === undefined) throw new Error("the json format needs a mapping");
  if (format !== "json" && mapping !== undefined) {
    throw new Error(`a mapping is only read with the json format, not ${format}`);
  }
  const readObject = (record: Record<string, unknown>, facts: LineFacts): RecordOutcome[] => {
    switch (format) {
      case "pinpoint":
        return [readPinpointRecord(record, facts)];
      case "segment":
        return readSegmentRecord(record, facts);
      case "json":
        return [readMappedRecord(record, facts, mapping as EventMapping)];
      case "auto":
        return readAuto(record, facts);
    }
  };
  return {
    format,
    read(line) {
      if (isTooLarge(line)) return [skipped("too_large", TOO_LARGE_DETAIL)];
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch {
        return [skipped("bad_json", "not valid JSON")];
      }
      if (!isObject(record)) return [skipped("bad_event", "record is not a JSON object")];
      return readObject(record, new LineFacts(line));
    },
  };
}
