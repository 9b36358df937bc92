/**
 * The record reader on the largest records: `parseRecord` on adversarial records of just under
 * 1 MiB (Kinesis's limit, `MAX_RECORD_BYTES`) against an ordinary record of the same size.
 *
 *   pnpm bench:records -- [--rounds 5]
 *
 * Every shape is parsed once per round, rounds interleaved; the best time of each is kept and
 * printed with its ratio to the ordinary record. A scan that is quadratic in the record's length
 * shows as a ratio in the thousands (a run of digits inside a string took minutes before the fix).
 */
import { MAX_RECORD_BYTES, parseRecord } from "@pia/core";
import { parseFlags, wholeNumberFlag } from "./parseFlags.js";
import { runMain } from "./runMain.js";

const REQUIRED =
  '"event_type":"purchase","event_timestamp":1612345678901,"endpoint":{"User":{"UserId":"u-1"}}';

/** A record of `MAX_RECORD_BYTES` minus a little: `fill(n)` gives a JSON member text of about n bytes. */
function recordOf(fill: (room: number) => string): string {
  const shell = `{${REQUIRED},}`;
  return `{${REQUIRED},${fill(MAX_RECORD_BYTES - shell.length - 64)}}`;
}

const SHAPES: ReadonlyArray<readonly [string, string]> = [
  [
    "ordinary (text attribute, 2 metrics)",
    recordOf(
      (n) => `"attributes":{"note":"${"lorem ipsum ".repeat(n / 12)}"},"metrics":{"price":129.99,"n":2}`,
    ),
  ],
  [
    "digits after a letter in a string",
    recordOf((n) => `"attributes":{"id":"a${"1".repeat(n - 40)}"},"metrics":{"m":1}`),
  ],
  ["dots after a letter", recordOf((n) => `"attributes":{"id":"a${".".repeat(n - 40)}"},"metrics":{"m":1}`)],
  [
    "digits and a numeric event_id",
    recordOf((n) => `"event_id":7,"attributes":{"id":"a${"1".repeat(n - 40)}"}`),
  ],
  ["one exact metric, 1 MiB of digits", recordOf((n) => `"metrics":{"m":1.${"2".repeat(n - 20)}}`)],
  [
    "numeric event_id, 1 MiB of digits",
    recordOf((n) => `"event_id":1${"2".repeat(n - 30)},"metrics":{"m":1}`),
  ],
  [
    "integer-like metric names (exact path)",
    recordOf((n) => `"metrics":{${Array.from({ length: n / 16 }, (_, i) => `"${i}":${i}`).join(",")}}`),
  ],
  ["escaped quotes", recordOf((n) => `"attributes":{"q":"${'\\"'.repeat(n / 2 - 20)}"},"metrics":{"0":1}`)],
  [
    "nested lists in an attribute",
    recordOf((n) => `"attributes":{"deep":${"[".repeat(n / 2 - 20)}${"]".repeat(n / 2 - 20)}}`),
  ],
  [
    "over the limit by one byte",
    `{${REQUIRED},"pad":"${"x".repeat(MAX_RECORD_BYTES)}"}`.slice(0, MAX_RECORD_BYTES + 1),
  ],
];

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { rounds: "string" });
  const rounds = wholeNumberFlag("rounds", flags.rounds, 5);
  const best = SHAPES.map(() => Number.POSITIVE_INFINITY);
  const outcomes = SHAPES.map(() => "");
  for (let round = 0; round < rounds; round++) {
    SHAPES.forEach(([, text], index) => {
      const started = performance.now();
      const outcome = parseRecord(text);
      const elapsed = performance.now() - started;
      best[index] = Math.min(best[index] ?? elapsed, elapsed);
      outcomes[index] = outcome.kind === "skipped" ? `skipped ${outcome.reason}` : outcome.kind;
    });
  }
  const baseline = best[0] ?? 1;
  const width = Math.max(...SHAPES.map(([name]) => name.length));
  console.log(
    `parseRecord, best of ${rounds} rounds, records of ${MAX_RECORD_BYTES.toLocaleString("en-US")} bytes or just under`,
  );
  SHAPES.forEach(([name, text], index) => {
    const ms = best[index] ?? 0;
    console.log(
      `${name.padEnd(width)}  ${(Buffer.byteLength(text) / 1024).toFixed(0).padStart(5)} KiB  ${ms.toFixed(2).padStart(8)} ms  ${(ms / baseline).toFixed(1).padStart(6)}x  ${outcomes[index]}`,
    );
  });
});
