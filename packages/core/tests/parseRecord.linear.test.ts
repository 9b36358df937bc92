import { describe, expect, it } from "vitest";
import { parseEventMapping } from "../src/parseEventMapping.js";
import { parseRecord } from "../src/parseRecord.js";
import { recordReader } from "../src/recordReader.js";

const USER = '"event_type":"purchase","event_timestamp":1612345678901,"endpoint":{"User":{"UserId":"u-1"}}';

/** A valid record with `body` (JSON members) after the required fields. */
function record(body: string): string {
  return `{${USER},${body}}`;
}

/**
 * The characters the record scanners read one by one (`charCodeAt`, all they use): an operation
 * counter, so that linearity is shown by counting steps rather than by timing.
 */
function countCharReads(run: () => void): number {
  const original = String.prototype.charCodeAt;
  let reads = 0;
  String.prototype.charCodeAt = function charCodeAt(this: string, index: number): number {
    reads++;
    return original.call(this, index);
  };
  try {
    run();
  } finally {
    String.prototype.charCodeAt = original;
  }
  return reads;
}

const RUN = 16 * 1024;

describe("parseRecord scans each record in linear time", () => {
  it.each<[string, string]>([
    [
      "a run of digits after a letter, in a string",
      `"attributes":{"x":"a${"1".repeat(RUN)}"},"metrics":{"m":1}`,
    ],
    ["a run of dots after a letter", `"attributes":{"x":"a${".".repeat(RUN)}"},"metrics":{"m":1}`],
    ["a run of digits in a key", `"attributes":{"a${"7".repeat(RUN)}":"x"},"metrics":{"m":1}`],
    ["a run of digits and a numeric event_id", `"event_id":7,"attributes":{"x":"a${"1".repeat(RUN)}"}`],
    [
      "many runs of 15 digits",
      `"attributes":{"x":"${"a123456789012345".repeat(RUN / 16)}"},"metrics":{"m":1}`,
    ],
    ["a long exact metric", `"metrics":{"m":1.${"2".repeat(RUN)}}`],
    ["a long numeric event_id", `"event_id":1${"2".repeat(RUN)},"metrics":{"m":1}`],
    ["many escaped quotes", `"attributes":{"x":"${'\\"'.repeat(RUN / 2)}"},"metrics":{"0":1}`],
    ["a run of backslashes", `"attributes":{"x":"${"\\\\".repeat(RUN / 2)}"},"metrics":{"0":1}`],
  ])("%s: at most a few reads per character", (_, body) => {
    const line = record(body);
    const reads = countCharReads(() => parseRecord(line));
    expect(reads).toBeLessThanOrEqual(4 * line.length);
  });

  it.each<[string, string]>([
    ["nested lists", `${"[".repeat(RUN)}${"]".repeat(RUN)}`],
    ["nested objects", `${'{"a":'.repeat(RUN)}1${"}".repeat(RUN)}`],
  ])("reads an attribute of deeply %s (JSON.parse accepts it) without exhausting the stack", (_, value) => {
    const outcome = parseRecord(record(`"attributes":{"deep":${value},"x":"y"}`));
    expect(outcome).toMatchObject({ kind: "event", event: { attributes: { x: "y" } } });
  });
});

const CALL =
  '{"type":"track","event":"e","userId":"u","timestamp":"2021-01-01T00:00:00Z","properties":{"7":1,"x":2}}';
const STEPS = 30;

describe("the other formats scan each line in linear time", () => {
  it("a Segment batch whose every call needs the exact path: each call scanned from its own start", () => {
    const line = `{"batch":[${Array.from({ length: RUN / 8 }, () => CALL).join(",")}]}`;
    let outcomes: ReturnType<ReturnType<typeof recordReader>["read"]> = [];
    const reads = countCharReads(() => {
      outcomes = recordReader({ format: "segment" }).read(line);
    });
    expect(outcomes).toHaveLength(RUN / 8);
    expect(outcomes.every((outcome) => outcome.kind === "event")).toBe(true);
    expect(reads).toBeLessThanOrEqual(4 * line.length);
  });

  it("a mapped metrics path of 30 steps: each step reads what it enters once more", () => {
    const path = Array(STEPS).fill("m").join(".");
    const reader = recordReader({
      format: "json",
      mapping: parseEventMapping(`userId: u\neventType: e\ntimestamp: t\nmetrics: ${path}`),
    });
    const line = `{"u":"a","e":"b","t":1,${'"m":{'.repeat(STEPS)}"7":1.${"2".repeat(RUN)}${"}".repeat(STEPS)}}`;
    let outcomes: ReturnType<typeof reader.read> = [];
    const reads = countCharReads(() => {
      outcomes = reader.read(line);
    });
    expect(outcomes).toMatchObject([{ kind: "event" }]);
    expect(reads).toBeLessThanOrEqual((STEPS + 4) * line.length);
  });
});
