import { createHash, timingSafeEqual } from "node:crypto";

/**
 * The write key of an `Authorization: Basic …` header, Segment's form: the key is the user name
 * and the password is empty (a password, if any, is not read). Undefined when there is no such
 * header or it does not decode to `key:`.
 */
export function readWriteKey(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(authorization.trim());
  if (match?.[1] === undefined) return undefined;
  const decoded = Buffer.from(match[1], "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const key = colon === -1 ? decoded : decoded.slice(0, colon);
  return key === "" ? undefined : key;
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

/**
 * Whether `given` is one of `keys`, in time that does not depend on where they differ: both sides
 * are hashed to the same length and compared with `timingSafeEqual`, every key, without an early
 * return (several keys are configured while one is rotated).
 */
export function isWriteKey(given: string, keys: readonly string[]): boolean {
  const mine = digest(given);
  let found = false;
  for (const key of keys) found = timingSafeEqual(mine, digest(key)) || found;
  return found;
}
