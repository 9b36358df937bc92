/** The local stack could not start (or stop); the message says what went wrong and what to do. */
export class LocalStackError extends Error {
  override readonly name = "LocalStackError";
}
