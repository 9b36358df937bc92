import {
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  ThrottlingException,
} from "@aws-sdk/client-dynamodb";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { Sink } from "@pia/notifier";

/** Failures a source can inject into its handler's own DynamoDB client. */
export interface HandlerFaults {
  /** Every Nth DynamoDB write of the handler is applied, then reported as failed (a crash after a partial success). */
  readonly failAfterWriteEvery?: number;
  /**
   * Every Nth DynamoDB request of the handler (reads and writes) is throttled before DynamoDB sees
   * it: ProvisionedThroughputExceededException or ThrottlingException, in turn, as they surface once
   * the SDK's own retries are spent.
   */
  readonly throttleDynamoDbEvery?: number;
}

/** Failures of a source that invokes its handler with batches. */
export interface BatchFaults extends HandlerFaults {
  /**
   * Every Nth invocation handles the first half of its batch, then crashes (a timeout, an
   * out-of-memory): the whole batch is retried.
   */
  readonly crashMidBatchEvery?: number;
}

/** The Kinesis mapping (ingest). */
export interface KinesisFaults extends BatchFaults {
  /** Every batch is delivered to the handler twice. */
  readonly duplicateBatches?: boolean;
}

/** The events table's stream mapping (aggregate). */
export interface StreamFaults extends BatchFaults {
  /** Every batch is delivered to the handler twice. */
  readonly duplicateBatches?: boolean;
  /** Every Nth SendMessageBatch of the handler fails before sending (a crash between the counter write and the send). */
  readonly failSendEvery?: number;
}

/** The notifications queue's mapping (notifier). */
export interface QueueFaults extends BatchFaults {
  /** Messages are not deleted after their first successful handling, so SQS delivers them again. */
  readonly redeliverMessages?: boolean;
  /** Every Nth call to the sink throws a retryable throttling error (HTTP 429) and delivers nothing. */
  readonly throttleSinkEvery?: number;
}

/** The schedule (timeseries). */
export interface ScheduleFaults extends HandlerFaults {
  /** Every Nth SendMessageBatch of the handler fails before sending. */
  readonly failSendEvery?: number;
}

/**
 * Failures `pia local` can inject, to prove the pipeline exact under at-least-once delivery; each
 * source is configured on its own, and counts its own Nth request, write or invocation.
 */
export interface Faults {
  readonly kinesis?: KinesisFaults;
  readonly stream?: StreamFaults;
  readonly queue?: QueueFaults;
  readonly schedule?: ScheduleFaults;
}

/** The kinds of fault counted in a run's summary. */
export const FAULT_KINDS = [
  "duplicateKinesisBatch",
  "duplicateStreamBatch",
  "failAfterWrite",
  "failSend",
  "redeliverMessage",
  "throttleDynamoDb",
  "throttleSink",
  "crashMidBatch",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/**
 * One source's faults, owned by that source: they strike only while armed, which the source does
 * for the first delivery of each batch and undoes for its retries, like a transient failure, so
 * every batch makes progress. Sources do not share one: a source delivering a retry must not
 * disarm another one delivering a first attempt.
 */
export interface FaultState {
  armed: boolean;
  writes: number;
  sends: number;
  requests: number;
  sinkCalls: number;
  invocations: number;
  /** Faults injected so far, by kind, for the summary (a fault test that injected nothing proves nothing). */
  readonly injected: Record<FaultKind, number>;
}

export function newFaultState(): FaultState {
  const injected = Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  return { armed: false, writes: 0, sends: 0, requests: 0, sinkCalls: 0, invocations: 0, injected };
}

export class InjectedFaultError extends Error {
  override readonly name = "InjectedFaultError";
}

/** A sink's answer to too many requests, shaped like the SDK's (name, HTTP status, throttling). */
export class InjectedThrottlingError extends Error {
  override readonly name = "TooManyRequestsException";
  readonly $metadata = { httpStatusCode: 429 };
  readonly $retryable = { throttling: true };
}

const WRITES = new Set([
  "PutItemCommand",
  "UpdateItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
]);

function throttlingError(command: string, nth: number): Error {
  const message = `injected: ${command} throttled before it was applied`;
  const $metadata = { httpStatusCode: 400 };
  return nth % 2 === 0
    ? new ProvisionedThroughputExceededException({ message, $metadata })
    : new ThrottlingException({ message, $metadata });
}

export function injectDynamoDbFaults(client: DynamoDBClient, faults: HandlerFaults, state: FaultState): void {
  const { failAfterWriteEvery: failEvery, throttleDynamoDbEvery: throttleEvery } = faults;
  if (failEvery === undefined && throttleEvery === undefined) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? "";
      if (state.armed && throttleEvery !== undefined && ++state.requests % throttleEvery === 0) {
        state.injected.throttleDynamoDb++;
        throw throttlingError(command, state.injected.throttleDynamoDb);
      }
      const result = await next(args);
      if (state.armed && failEvery !== undefined && WRITES.has(command) && ++state.writes % failEvery === 0) {
        state.injected.failAfterWrite++;
        throw new InjectedFaultError(`injected: ${command} applied, then reported as failed`);
      }
      return result;
    },
    { step: "initialize", name: "piaInjectFaults" },
  );
}

export function injectSendFaults(
  client: SQSClient,
  faults: { readonly failSendEvery?: number },
  state: FaultState,
): void {
  const every = faults.failSendEvery;
  if (every === undefined) return;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (state.armed && context.commandName === "SendMessageBatchCommand" && ++state.sends % every === 0) {
        state.injected.failSend++;
        throw new InjectedFaultError("injected: crash before SendMessageBatch");
      }
      return next(args);
    },
    { step: "initialize", name: "piaInjectFaults" },
  );
}

/** The sink, throttled every `throttleSinkEvery`th call while armed. */
export function injectSinkFaults(sink: Sink, faults: QueueFaults, state: FaultState): Sink {
  const every = faults.throttleSinkEvery;
  if (every === undefined) return sink;
  return {
    name: sink.name,
    deliver(batch) {
      if (state.armed && ++state.sinkCalls % every === 0) {
        state.injected.throttleSink++;
        return Promise.reject(
          new InjectedThrottlingError("injected: the sink answered 429 Too Many Requests"),
        );
      }
      return sink.deliver(batch);
    },
  };
}

/** Whether this handler invocation crashes half-way through its batch (`crashMidBatchEvery`). */
export function crashesMidBatch(faults: BatchFaults, state: FaultState): boolean {
  const every = faults.crashMidBatchEvery;
  if (every === undefined || !state.armed || ++state.invocations % every !== 0) return false;
  state.injected.crashMidBatch++;
  return true;
}

/** Faults injected so far by several sources, by kind. */
export function sumInjected(states: readonly FaultState[]): Record<FaultKind, number> {
  const total = newFaultState().injected;
  for (const state of states) for (const kind of FAULT_KINDS) total[kind] += state.injected[kind];
  return total;
}
