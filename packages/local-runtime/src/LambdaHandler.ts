import type { Context } from "aws-lambda";
import type { BatchResponse } from "./deliverWithRetries.js";

/** A Lambda handler as an event source mapping or a schedule invokes it (a middy handler is one). */
export type LambdaHandler<E, R = BatchResponse> = (event: E, context: Context) => Promise<R | undefined>;
