import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";

/** Failures `pia local` can inject, to prove the pipeline exact under at-least-once delivery. */
export interface Faults {
  /** Every Kinesis batch is delivered to ingest twice. */
  readonly duplicateKinesisBatches?: boolean;
  /** Every stream batch is delivered to aggregate twice. */
  readonly duplicateStreamBatches?: boolean;
  /** Every Nth DynamoDB write of the handlers is applied, then reported as failed (a crash after a partial success). */
  readonly failAfterWriteEvery?: number;
  /** Every Nth SendMessageBatch of the deciders fails before sending (a crash between the counter write and the send). */
  readonly failSendEvery?: number;
  /** Messages are not deleted after their first successful handling, so SQS delivers them again. */
  readonly redeliverMessages?: boolean;
}

/**
 * Faults strike only while armed: the runner arms them for the first delivery of each batch and
 * disarms them for its retries, like a transient failure, so every batch makes progress.
 */
export interface FaultState {
  armed: boolean;
  writes: number;
  sends: number;
  /** Faults injected so far, for the summary (a fault test that injected nothing proves nothing). */
  injected: number;
}

export class InjectedFaultError extends Error {
  override readonly name = "InjectedFaultError";
}

const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

export function injectDynamoDbFaults(client: DynamoDBClient, faults: Faults, state: FaultState): void {
  const every = faults.failAfterWriteEvery;
  if (every === undefined) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (state.armed && WRITES.has(context.commandName ?? "") && ++state.writes % every === 0) {
        state.injected++;
        throw new InjectedFaultError(`injected: ${context.commandName} applied, then reported as failed`);
      }
      return result;
    },
    { step: "initialize", name: "piaInjectFaults" },
  );
}

export function injectSendFaults(client: SQSClient, faults: Faults, state: FaultState): void {
  const every = faults.failSendEvery;
  if (every === undefined) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (state.armed && context.commandName === "SendMessageBatchCommand" && ++state.sends % every === 0) {
        state.injected++;
        throw new InjectedFaultError("injected: crash before SendMessageBatch");
      }
      return next(args);
    },
    { step: "initialize", name: "piaInjectFaults" },
  );
}
