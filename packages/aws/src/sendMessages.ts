import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** SendMessageBatch's limit of entries per call. */
const SEND_BATCH_LIMIT = 10;
const MAX_ATTEMPTS = 8;

/**
 * Sends message bodies to a queue, 10 per SendMessageBatch, retrying failed entries with backoff;
 * throws when some are still not sent, so the caller's batch is retried (the bodies carry ids
 * that make a second send harmless).
 */
export function buildSendMessages(
  sqs: SQSClient,
  config: { readonly queueUrl: string; readonly sleep?: (ms: number) => Promise<void> },
): (messages: readonly { id: string; body: string }[]) => Promise<void> {
  const sleep = config.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (messages) => {
    for (let start = 0; start < messages.length; start += SEND_BATCH_LIMIT) {
      let pending = messages.slice(start, start + SEND_BATCH_LIMIT);
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > 1) await sleep(Math.floor(Math.random() * Math.min(2000, 50 * 2 ** attempt)));
        const output = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: pending.map((message, index) => ({ Id: `m${index}`, MessageBody: message.body })),
          }),
        );
        const failed = new Set((output.Failed ?? []).map((entry) => entry.Id));
        const senderFault = (output.Failed ?? []).find((entry) => entry.SenderFault === true);
        if (senderFault !== undefined) {
          throw new Error(
            `SendMessageBatch refused a message (${senderFault.Code ?? "unknown"}): ${senderFault.Message ?? ""}`,
          );
        }
        pending = pending.filter((_, index) => failed.has(`m${index}`));
        if (pending.length > 0 && attempt >= MAX_ATTEMPTS) {
          throw new Error(
            `SendMessageBatch: ${pending.length} messages still failing after ${MAX_ATTEMPTS} attempts`,
          );
        }
      }
    }
  };
}
