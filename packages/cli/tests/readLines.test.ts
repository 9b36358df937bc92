import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { MAX_RECORD_BYTES } from "@pia/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readLines, splitLines } from "../src/readLines.js";

/** What the reader gave, with an over-long line shown by its size. */
function shown(lines: ReadonlyArray<string | { readonly oversized: true; readonly bytes: number }>) {
  return lines.map((line) => (typeof line === "string" ? line : { oversized: line.bytes }));
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The bytes of `text` in chunks of `size` bytes (splitting characters and CRLF pairs). */
async function* chunksOf(text: string, size: number): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let start = 0; start < bytes.length; start += size) yield bytes.subarray(start, start + size);
}

const LONG = `{"event_type":"a","pad":"${"x".repeat(MAX_RECORD_BYTES)}"}`;
const FILE = ["first", LONG, "", "last"].join("\r\n");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-lines-"));
  await writeFile(join(dir, "events.ndjson"), FILE);
  await writeFile(join(dir, "events.ndjson.gz"), gzipSync(FILE));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("readLines", () => {
  it.each(["events.ndjson", "events.ndjson.gz"])(
    "gives a line over 1 MiB of %s as one oversized line, by its size",
    async (file) => {
      const lines = await collect(readLines(join(dir, file)));
      expect(shown(lines)).toStrictEqual(["first", { oversized: LONG.length }, "", "last"]);
    },
  );
});

describe("splitLines", () => {
  it.each([1, 2, 3, 7, 64])(
    "splits LF and CRLF lines and UTF-8 characters across chunks of %i bytes",
    async (size) => {
      const text = "a€b\r\n\n😀\nlast é";
      expect(await collect(splitLines(chunksOf(text, size), 16))).toStrictEqual(["a€b", "", "😀", "last é"]);
    },
  );

  it("gives no line after a final newline, and keeps invalid UTF-8 as replacement characters", async () => {
    const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x0a]);
    expect(await collect(splitLines([bytes], 16))).toStrictEqual(["{\ufffd\ufffd"]);
  });

  it.each<[string, string, Array<string | { oversized: number }>]>([
    ["exactly the limit", "12345678\n", ["12345678"]],
    ["exactly the limit before a CRLF", "12345678\r\n", ["12345678"]],
    ["one byte over", "123456789\nok\n", [{ oversized: 9 }, "ok"]],
    ["one byte over in UTF-8, not in characters", "1234567é\nok", [{ oversized: 9 }, "ok"]],
    ["far over, unterminated", `${"x".repeat(1000)}\r`, [{ oversized: 1000 }]],
  ])("measures a line in bytes without its line break: %s", async (_, text, expected) => {
    for (const size of [1, 3, 1024]) {
      expect(shown(await collect(splitLines(chunksOf(text, size), 8)))).toStrictEqual(expected);
    }
  });

  it("streams a line longer than any string can be, holding only the limit, and counts it as one line", async () => {
    const chunk = Buffer.alloc(1 << 20, 0x78);
    const chunks = 600; // 600 MiB: past V8's longest string, so a reader that kept the line would fail
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.from("before\n");
      for (let i = 0; i < chunks; i++) yield chunk;
      yield Buffer.from("\nafter");
    }
    const lines = await collect(splitLines(source(), MAX_RECORD_BYTES));
    expect(shown(lines)).toStrictEqual(["before", { oversized: chunks * chunk.length }, "after"]);
    const [, oversized] = lines;
    expect(typeof oversized === "string" ? undefined : oversized?.head.length).toBe(MAX_RECORD_BYTES + 1);
  });
});
