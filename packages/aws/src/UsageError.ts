/**
 * A wrong flag or flag value on a command line (the pia CLI, the benchmarks, the packaging script):
 * the command prints the message, which says what to pass instead, and exits with 2.
 */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
