import { hash } from "node:crypto";

/** Slots in a new table (a power of two); each slot is 4 words, a 128-bit fingerprint. */
const INITIAL_SLOTS = 1024;
/** The table doubles when more than this share of its slots is used. */
const MAX_LOAD = 0.6;

/** base64url alphabet value of each ASCII code, -1 for other characters. */
const BASE64URL = new Int8Array(128).fill(-1);
for (const [index, char] of [
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
].entries()) {
  BASE64URL[char.charCodeAt(0)] = index;
}

/**
 * Writes the 16 bytes encoded by an `h:` identity (`h:` + 22 base64url characters, as
 * `eventIdentity` makes them) into `out` as 4 big-endian words. Returns false for any other text,
 * including a non-canonical last character, so that one fingerprint stands for one identity.
 */
function decodeHashIdentity(identity: string, out: Uint32Array): boolean {
  if (identity.length !== 24 || identity.charCodeAt(0) !== 0x68 || identity.charCodeAt(1) !== 0x3a)
    return false;
  let bits = 0;
  let pending = 0;
  let word = 0;
  let bytes = 0;
  for (let i = 2; i < 24; i++) {
    const code = identity.charCodeAt(i);
    const value = code < 128 ? (BASE64URL[code] ?? -1) : -1;
    if (value < 0) return false;
    pending = (pending << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      word = (word << 8) | ((pending >>> bits) & 0xff);
      pending &= (1 << bits) - 1;
      bytes++;
      if ((bytes & 3) === 0) out[(bytes >>> 2) - 1] = word;
    }
  }
  // 22 characters carry 132 bits: the 4 left over must be zero in canonical base64url.
  return pending === 0;
}

function isEmptySlot(table: Uint32Array, at: number): boolean {
  return ((table[at] ?? 0) | (table[at + 1] ?? 0) | (table[at + 2] ?? 0) | (table[at + 3] ?? 0)) === 0;
}

/** The 128-bit fingerprint of an identity, as 4 words in `out`. */
function fingerprint(identity: string, out: Uint32Array): void {
  if (decodeHashIdentity(identity, out)) return;
  const digest = hash("sha256", identity, "buffer");
  out[0] = digest.readUInt32BE(0);
  out[1] = digest.readUInt32BE(4);
  out[2] = digest.readUInt32BE(8);
  out[3] = digest.readUInt32BE(12);
}

/**
 * The set of event identities seen so far, small enough for millions of events: each identity is
 * kept as a 128-bit fingerprint (16 bytes in a flat open-addressing table, about 27-53 bytes per
 * identity with the load kept between 0.3 and 0.6) instead of its string.
 *
 * `h:` identities already are 128 bits of SHA-256 and are decoded; any other identity (`id:…`,
 * `segment:…`, `mapped:…`) is fingerprinted by the first 16 bytes of its SHA-256. The two never
 * hash the same input: an `h:` identity hashes a serialization that starts with a digit, a quote,
 * `S` or `M`, never with "id:", "segment:" or "mapped:".
 * So two different identities from `eventIdentity` are taken as the same only if their
 * fingerprints collide: about 1 in 10^20 for a billion identities. (A bare string like "0" is
 * not such an identity: it would share the fingerprint of the `h:` identity of that content.)
 */
export class IdentitySet {
  /** 4 words per slot; an all-zero slot is empty. */
  #table = new Uint32Array(INITIAL_SLOTS * 4);
  #mask = INITIAL_SLOTS - 1;
  #limit = Math.floor(INITIAL_SLOTS * MAX_LOAD);
  /** Fingerprints in the table. */
  #stored = 0;
  /** The all-zero fingerprint cannot be stored (it marks empty slots), so it is a flag. */
  #hasZero = false;
  readonly #scratch = new Uint32Array(4);

  /** Adds an identity; true when it is new, false when it was already seen. */
  add(identity: string): boolean {
    const fp = this.#scratch;
    fingerprint(identity, fp);
    const a = fp[0] ?? 0;
    const b = fp[1] ?? 0;
    const c = fp[2] ?? 0;
    const d = fp[3] ?? 0;
    if ((a | b | c | d) === 0) {
      if (this.#hasZero) return false;
      this.#hasZero = true;
      return true;
    }
    const table = this.#table;
    const mask = this.#mask;
    // The fingerprint is uniformly random, so its first word is a good slot index.
    let slot = a & mask;
    for (;;) {
      const at = slot * 4;
      const sa = table[at] ?? 0;
      const sb = table[at + 1] ?? 0;
      const sc = table[at + 2] ?? 0;
      const sd = table[at + 3] ?? 0;
      if ((sa | sb | sc | sd) === 0) {
        table[at] = a;
        table[at + 1] = b;
        table[at + 2] = c;
        table[at + 3] = d;
        break;
      }
      if (sa === a && sb === b && sc === c && sd === d) return false;
      slot = (slot + 1) & mask;
    }
    this.#stored++;
    if (this.#stored > this.#limit) this.#grow();
    return true;
  }

  /** Number of distinct identities added. */
  get size(): number {
    return this.#stored + (this.#hasZero ? 1 : 0);
  }

  #grow(): void {
    const old = this.#table;
    const slots = (this.#mask + 1) * 2;
    const table = new Uint32Array(slots * 4);
    const mask = slots - 1;
    for (let at = 0; at < old.length; at += 4) {
      if (isEmptySlot(old, at)) continue;
      let slot = (old[at] ?? 0) & mask;
      while (!isEmptySlot(table, slot * 4)) slot = (slot + 1) & mask;
      table.set(old.subarray(at, at + 4), slot * 4);
    }
    this.#table = table;
    this.#mask = mask;
    this.#limit = Math.floor(slots * MAX_LOAD);
  }
}
