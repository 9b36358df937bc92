import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { MAX_RECORD_BYTES } from "@pia/core";

const GZIP_MAGIC = [0x1f, 0x8b] as const;
const LF = 0x0a;
const CR = 0x0d;

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/** A line longer than the limit: read through and counted, never held whole. */
export interface OversizedLine {
  readonly oversized: true;
  /** Its length in bytes, without the line break. */
  readonly bytes: number;
  /** Its first `maxBytes + 1` bytes: enough for a consumer that must pass on a record it knows is too large. */
  readonly head: Buffer;
}

/**
 * Splits a byte stream into UTF-8 lines (LF or CRLF; the break is not part of the line). A line
 * over `maxBytes` bytes comes out as an `OversizedLine`: once it passes the limit, the rest of it
 * is only counted, so memory stays within the limit plus one chunk however long the line is.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes: number,
): AsyncGenerator<string | OversizedLine> {
  // The current line: its pieces while it may still fit (one more byte may be a CRLF's CR), its length.
  let pieces: Buffer[] = [];
  let held = 0;
  let length = 0;
  let lastByte = -1;
  const finish = (): string | OversizedLine => {
    const bytes = lastByte === CR ? length - 1 : length;
    const line: string | OversizedLine =
      bytes > maxBytes
        ? { oversized: true, bytes, head: Buffer.concat(pieces, Math.min(held, maxBytes + 1)) }
        : (pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, held)).toString(
            "utf8",
            0,
            bytes,
          );
    pieces = [];
    held = 0;
    length = 0;
    lastByte = -1;
    return line;
  };
  for await (const chunk of chunks) {
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    while (start < buffer.length) {
      const newline = buffer.indexOf(LF, start);
      const end = newline === -1 ? buffer.length : newline;
      if (end > start) {
        length += end - start;
        lastByte = buffer[end - 1] ?? -1;
        if (held <= maxBytes + 1) {
          pieces.push(buffer.subarray(start, end));
          held += end - start;
        }
      }
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  if (length > 0) yield finish();
}

/**
 * Streams the lines of an NDJSON file (gzip detected by its magic bytes, whatever the name), CRLF or
 * LF, without holding the file in memory. A line over `maxBytes` (default: `MAX_RECORD_BYTES`, the
 * largest record) is not held either: it comes out as one `OversizedLine`.
 */
export async function* readLines(
  file: string,
  maxBytes: number = MAX_RECORD_BYTES,
): AsyncGenerator<string | OversizedLine> {
  const gzip = await isGzip(file);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const input = gzip ? raw.pipe(createGunzip()) : raw;
  raw.on("error", (error) => input.destroy(error));
  try {
    yield* splitLines(input, maxBytes);
  } finally {
    input.destroy();
    raw.destroy();
  }
}
