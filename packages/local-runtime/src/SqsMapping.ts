import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { lambdaContext } from "@pia/aws";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { crashHalfway } from "./deliverWithRetries.js";
import { crashesMidBatch, type FaultState, newFaultState, type QueueFaults } from "./faults.js";
import type { LambdaHandler } from "./LambdaHandler.js";

export interface SqsMappingOptions {
  readonly handler: LambdaHandler<SQSEvent>;
  readonly functionName: string;
  readonly region: string;
  /** Receives, deletes and returns messages (not the handler's client: no faults, not counted). */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  /** Messages per batch (`BatchSize`; SQS receives at most 10 at a time). */
  readonly batchSize: number;
  readonly faults?: QueueFaults;
  /** This source's fault counters (default: its own). */
  readonly faultState?: FaultState;
}

/** How long a received message stays hidden; every batch deletes or releases its messages before. */
const VISIBILITY_TIMEOUT_SECONDS = 30;

/**
 * Lambda's event source mapping on an SQS queue: messages received in batches of `batchSize` and
 * handed to the handler; those it handled are deleted, those it reports as failed (or all, when it
 * throws) are released for another receive, so that the queue's redrive policy moves a message
 * that keeps failing to its dead-letter queue. `drain` delivers until the queue is empty; the
 * mapping can drain again whenever more was sent.
 */
export class SqsMapping {
  readonly #options: SqsMappingOptions;
  readonly #faultState: FaultState;

  constructor(options: SqsMappingOptions) {
    this.#options = options;
    this.#faultState = options.faultState ?? newFaultState();
  }

  get faultState(): FaultState {
    return this.#faultState;
  }

  /** Delivers every message, until a receive finds the queue empty. */
  async drain(): Promise<void> {
    for (;;) {
      const messages = await this.#receive();
      if (messages.length === 0) return;
      await this.#deliver(messages);
    }
  }

  async #receive(): Promise<Message[]> {
    const received = await this.#options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#options.queueUrl,
        MaxNumberOfMessages: this.#options.batchSize,
        WaitTimeSeconds: 0,
        VisibilityTimeout: VISIBILITY_TIMEOUT_SECONDS,
        // local-aws-sqs reads the older AttributeNames; AWS reads either.
        AttributeNames: ["All"],
        MessageSystemAttributeNames: ["All"],
      }),
    );
    return received.Messages ?? [];
  }

  async #deliver(messages: Message[]): Promise<void> {
    const { handler, functionName, faults = {} } = this.#options;
    const state = this.#faultState;
    const event: SQSEvent = { Records: messages.map((message) => this.#record(message)) };
    const invoke = (records: SQSRecord[]) => handler({ Records: records }, lambdaContext(functionName));
    // Faults strike first receives only: a message fails at most once by them, long before its
    // last receive sends it to the DLQ.
    state.armed = messages.every(isFirstDelivery);
    let failed = new Set<string>();
    try {
      if (crashesMidBatch(faults, state)) await crashHalfway(event.Records, invoke);
      const response = await invoke(event.Records);
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch {
      failed = new Set(messages.map((message) => message.MessageId ?? ""));
    } finally {
      state.armed = false;
    }
    const handled = messages.filter((message) => !failed.has(message.MessageId ?? ""));
    const redelivered = faults.redeliverMessages === true ? handled.filter(isFirstDelivery) : [];
    state.injected.redeliverMessage += redelivered.length;
    const done = handled.filter((message) => !redelivered.includes(message));
    const retry = messages.filter((message) => !done.includes(message));
    await this.#delete(done);
    await this.#release(retry);
  }

  #record(message: Message): SQSRecord {
    return {
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      attributes: (message.Attributes ?? {}) as SQSRecord["attributes"],
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: this.#options.queueArn,
      awsRegion: this.#options.region,
    };
  }

  async #delete(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    await this.#options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.#options.queueUrl,
        Entries: messages.map((message, index) => ({
          Id: `d${index}`,
          ReceiptHandle: message.ReceiptHandle ?? "",
        })),
      }),
    );
  }

  /** Makes the messages visible again at once: Lambda would wait for the visibility timeout. */
  async #release(messages: Message[]): Promise<void> {
    if (messages.length === 0) return;
    await this.#options.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.#options.queueUrl,
        Entries: messages.map((message, index) => ({
          Id: `r${index}`,
          ReceiptHandle: message.ReceiptHandle ?? "",
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

function isFirstDelivery(message: Message): boolean {
  return message.Attributes?.ApproximateReceiveCount === "1";
}
