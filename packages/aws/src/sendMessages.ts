import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { SEND_BATCH_LIMIT } from "./notificationMessage.js";
import { chunk, type RetryOptions, retryUnprocessed } from "./retryUnprocessed.js";

/**
 * Sends message bodies to a queue, 10 per SendMessageBatch, retrying failed entries with backoff;
 * throws when some are still not sent, so the caller's batch is retried (the bodies carry ids
 * that make a second send harmless).
 */
export function buildSendMessages(
  sqs: SQSClient,
  config: { readonly queueUrl: string; readonly retry?: RetryOptions },
): (messages: readonly { id: string; body: string }[]) => Promise<void> {
  return async (messages) => {
    for (const group of chunk(messages, SEND_BATCH_LIMIT)) {
      const left = await retryUnprocessed(
        group,
        async (pending) => {
          const output = await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: config.queueUrl,
              Entries: pending.map((message, index) => ({ Id: `m${index}`, MessageBody: message.body })),
            }),
          );
          const senderFault = (output.Failed ?? []).find((entry) => entry.SenderFault === true);
          if (senderFault !== undefined) {
            throw new Error(
              `SendMessageBatch refused a message (${senderFault.Code ?? "unknown"}): ${senderFault.Message ?? ""}`,
            );
          }
          const failed = new Set((output.Failed ?? []).map((entry) => entry.Id));
          return pending.filter((_, index) => failed.has(`m${index}`));
        },
        config.retry,
      );
      if (left.length > 0)
        throw new Error(`SendMessageBatch: ${left.length} messages still failing after the retries`);
    }
  };
}
