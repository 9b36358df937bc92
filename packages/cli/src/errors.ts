/** Exit codes of every pia command (documented in the README). */
export const EXIT = { ok: 0, failure: 1, invalid: 2 } as const;

/** A wrong flag or value on the command line: exit 2, with the message. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
