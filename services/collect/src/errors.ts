/** One malformed call of a request: its place (`batch[3]`, or `call` for /v1/track) and why. */
export interface CallProblem {
  readonly call: string;
  readonly problem: string;
}

/**
 * The request cannot be accepted as sent; `status` is the HTTP answer (400 malformed, 413 over a
 * limit, 415 a compressed body) and the message says what to change. Nothing of it was put.
 */
export class CollectRequestError extends Error {
  override readonly name = "CollectRequestError";
  constructor(
    readonly status: 400 | 413 | 415,
    message: string,
    readonly problems: readonly CallProblem[] = [],
    readonly problemCount: number = problems.length,
  ) {
    super(message);
  }
}

/**
 * Some calls were still not on the stream when the time budget ran out (the stream throttled or
 * failed them): the client is told to send the request again (503). Those that were put will be
 * put twice, which ingest de-duplicates (the call's `messageId`, else its content).
 */
export class StreamUnavailableError extends Error {
  override readonly name = "StreamUnavailableError";
  constructor(
    readonly notPut: number,
    readonly total: number,
  ) {
    super(`${notPut} of ${total} calls could not be put on the stream in time: send the request again`);
  }
}
