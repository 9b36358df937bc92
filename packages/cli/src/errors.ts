/** Exit codes of every pia command (documented in the README). */
export const EXIT = { ok: 0, failure: 1, invalid: 2 } as const;

// The error every command line of the repository shares; exit 2 (EXIT.invalid).
export { UsageError } from "@pia/aws/usageError";
