import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

/** A dead letter as `pia dlq list` shows it: why it failed, never the user it was for. */
export interface DeadLetter {
  readonly messageId: string;
  readonly notificationId?: string;
  readonly ruleId?: string;
  /** `invalid_message`, `permanent`, or absent: it ran out of receives (the redrive policy). */
  readonly failure?: string;
  readonly reason?: string;
  readonly sink?: string;
  readonly receiveCount?: number;
}

function describeBody(body: string): { notificationId?: string; ruleId?: string } {
  try {
    const parsed = JSON.parse(body) as { id?: unknown; notification?: { ruleId?: unknown } };
    return {
      ...(typeof parsed.id === "string" ? { notificationId: parsed.id } : {}),
      ...(typeof parsed.notification?.ruleId === "string" ? { ruleId: parsed.notification.ruleId } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * Reads up to `max` messages of a dead-letter queue without removing them: they are hidden while
 * being read (so each is read once), then made visible again at once.
 */
export async function listDeadLetters(sqs: SQSClient, dlqUrl: string, max: number): Promise<DeadLetter[]> {
  const seen = new Map<string, DeadLetter>();
  const receipts: string[] = [];
  try {
    await readDeadLetters(sqs, dlqUrl, max, seen, receipts);
  } finally {
    for (let start = 0; start < receipts.length; start += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: dlqUrl,
          Entries: receipts
            .slice(start, start + 10)
            .map((ReceiptHandle, index) => ({ Id: `v${index}`, ReceiptHandle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return [...seen.values()];
}

async function readDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  max: number,
  seen: Map<string, DeadLetter>,
  receipts: string[],
): Promise<void> {
  while (seen.size < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlqUrl,
        MaxNumberOfMessages: Math.min(10, max - seen.size),
        VisibilityTimeout: 30,
        AttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    const fresh = Messages.filter((message) => !seen.has(message.MessageId ?? ""));
    if (fresh.length === 0) break;
    for (const message of fresh) {
      if (message.ReceiptHandle !== undefined) receipts.push(message.ReceiptHandle);
      const attribute = (name: string) => message.MessageAttributes?.[name]?.StringValue;
      const failure = attribute("piaFailure");
      const reason = attribute("piaReason");
      const sink = attribute("piaSink");
      const receives = Number(message.Attributes?.ApproximateReceiveCount);
      seen.set(message.MessageId ?? "", {
        messageId: message.MessageId ?? "",
        ...describeBody(message.Body ?? ""),
        ...(failure === undefined ? {} : { failure }),
        ...(reason === undefined ? {} : { reason }),
        ...(sink === undefined ? {} : { sink }),
        ...(Number.isFinite(receives) ? { receiveCount: receives } : {}),
      });
    }
  }
}

/**
 * Moves up to `max` messages from the dead-letter queue back to the queue, bodies unchanged (the
 * notifier delivers each notification id once, so a redrive never doubles one): each is sent
 * first and deleted from the DLQ only once sent.
 */
export async function redriveDeadLetters(
  sqs: SQSClient,
  config: { readonly dlqUrl: string; readonly queueUrl: string; readonly max: number },
): Promise<number> {
  let moved = 0;
  while (moved < config.max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: config.dlqUrl,
        MaxNumberOfMessages: Math.min(10, config.max - moved),
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: config.queueUrl,
        Entries: Messages.map((message, index) => ({ Id: `m${index}`, MessageBody: message.Body ?? "" })),
      }),
    );
    const failed = new Set((sent.Failed ?? []).map((entry) => entry.Id));
    const done = Messages.filter((_, index) => !failed.has(`m${index}`));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: config.dlqUrl,
          Entries: done.map((message, index) => ({
            Id: `d${index}`,
            ReceiptHandle: message.ReceiptHandle ?? "",
          })),
        }),
      );
    }
    moved += done.length;
    if (done.length < Messages.length) {
      throw new Error(
        `redrive: SendMessageBatch refused ${Messages.length - done.length} messages; ${moved} moved so far`,
      );
    }
  }
  return moved;
}
