/**
 * The record reader on the largest records: `parseRecord` on adversarial records of just under
 * 1 MiB (Kinesis's limit, `MAX_RECORD_BYTES`) against an ordinary record of the same size.
 *
 *   pnpm bench:records -- [--rounds 5]
 *
 * Each record is parsed `rounds` times and the best time kept, printed with its ratio to the
 * ordinary record and to the same shape at half the size (about 2 when linear, 4 when quadratic).
 * A scan that is quadratic in the record's length shows as a ratio in the thousands against the
 * ordinary record (a run of digits inside a string took minutes before the fix).
 */
import { MAX_RECORD_BYTES, parseRecord } from "@pia/core";
import { parseFlags, wholeNumberFlag } from "./parseFlags.js";
import { runMain } from "./runMain.js";

const REQUIRED =
  '"event_type":"purchase","event_timestamp":1612345678901,"endpoint":{"User":{"UserId":"u-1"}}';

/**
 * A record of `MAX_RECORD_BYTES` minus a little: `fill(n)` gives a JSON member text of about n
 * bytes. With a half-size twin: a linear scan takes about twice as long on the full one, a
 * quadratic one four times.
 */
function recordOf(fill: (room: number) => string): { full: string; half: string } {
  const room = MAX_RECORD_BYTES - `{${REQUIRED},}`.length - 64;
  return { full: `{${REQUIRED},${fill(room)}}`, half: `{${REQUIRED},${fill(Math.floor(room / 2))}}` };
}

const SHAPES: ReadonlyArray<readonly [string, { full: string; half: string }]> = [
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
];

const OVER_LIMIT = `{${REQUIRED},"pad":"${"x".repeat(MAX_RECORD_BYTES)}"}`.slice(0, MAX_RECORD_BYTES + 1);

function bestOf(rounds: number, text: string): { ms: number; outcome: string } {
  let ms = Number.POSITIVE_INFINITY;
  let outcome = "";
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const result = parseRecord(text);
    ms = Math.min(ms, performance.now() - started);
    outcome = result.kind === "skipped" ? `skipped ${result.reason}` : result.kind;
  }
  return { ms, outcome };
}

runMain(async () => {
  const flags = parseFlags(process.argv.slice(2), { rounds: "string" });
  const rounds = wholeNumberFlag("rounds", flags.rounds, 5);
  const rows = SHAPES.map(([name, { full, half }]) => ({
    name,
    bytes: Buffer.byteLength(full),
    full: bestOf(rounds, full),
    half: bestOf(rounds, half),
  }));
  const over = bestOf(rounds, OVER_LIMIT);
  const baseline = rows[0]?.full.ms ?? 1;
  const width = Math.max(...rows.map(({ name }) => name.length));
  console.log(
    `parseRecord, best of ${rounds} runs; records just under ${MAX_RECORD_BYTES.toLocaleString("en-US")} bytes`,
  );
  console.log(`${"record".padEnd(width)}    size      time  vs ordinary  vs half size`);
  for (const { name, bytes, full, half } of rows) {
    console.log(
      `${name.padEnd(width)}  ${(bytes / 1024).toFixed(0).padStart(4)} KiB  ${full.ms.toFixed(2).padStart(6)} ms  ${(full.ms / baseline).toFixed(1).padStart(10)}x  ${(full.ms / half.ms).toFixed(1).padStart(11)}x  ${full.outcome}`,
    );
  }
  console.log(
    `${"one byte over the limit".padEnd(width)}  ${(MAX_RECORD_BYTES / 1024).toFixed(0).padStart(4)} KiB  ${over.ms.toFixed(2).padStart(6)} ms  ${(over.ms / baseline).toFixed(2).padStart(10)}x  ${"".padStart(12)}  ${over.outcome}`,
  );
});
