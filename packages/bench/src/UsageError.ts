/** A bad flag or flag value: the command prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
