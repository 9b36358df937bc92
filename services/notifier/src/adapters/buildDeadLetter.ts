import { type MessageAttributeValue, SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { batchEntryId, batchEntryIndex, SEND_BATCH_LIMIT } from "@pia/aws";
import type { DeadLetter, DeadLetterInput } from "../ports.js";

export interface DeadLetterConfig {
  /** URL of the notifications queue's dead-letter queue. */
  readonly queueUrl: string;
}

/** SendMessageBatch's limit on the sum of its messages, bodies and attributes. */
const MAX_REQUEST_BYTES = 256 * 1024;
/** Reasons are cut here: enough to act on, far under the message size limit. */
const MAX_REASON_CHARS = 1000;

function attribute(value: string): MessageAttributeValue {
  return { DataType: "String", StringValue: value };
}

/** The failure as message attributes: the body stays the original, so a redrive sends it as it was. */
function attributesOf(letter: DeadLetterInput): Record<string, MessageAttributeValue> {
  return {
    piaFailure: attribute(letter.kind),
    piaReason: attribute(letter.reason.slice(0, MAX_REASON_CHARS) || "unknown"),
    piaSourceMessageId: attribute(letter.messageId),
    ...(letter.sink === undefined ? {} : { piaSink: attribute(letter.sink) }),
  };
}

function sizeOf(letter: DeadLetterInput, attributes: Record<string, MessageAttributeValue>): number {
  let bytes = Buffer.byteLength(letter.body, "utf8");
  for (const [name, value] of Object.entries(attributes)) {
    bytes += Buffer.byteLength(name, "utf8") + (value.DataType?.length ?? 0);
    bytes += Buffer.byteLength(value.StringValue ?? "", "utf8");
  }
  return bytes;
}

interface Entry {
  readonly letter: DeadLetterInput;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly bytes: number;
}

/** Requests of at most 10 entries and 256 KiB; a larger single entry goes alone (and SQS decides). */
function groupEntries(letters: readonly DeadLetterInput[]): Entry[][] {
  const groups: Entry[][] = [];
  let group: Entry[] = [];
  let bytes = 0;
  for (const letter of letters) {
    const attributes = attributesOf(letter);
    const entry = { letter, attributes, bytes: sizeOf(letter, attributes) };
    if (group.length === SEND_BATCH_LIMIT || (group.length > 0 && bytes + entry.bytes > MAX_REQUEST_BYTES)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += entry.bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Sends dead letters with SendMessageBatch: the original body, and the failure in the attributes
 * `piaFailure` (kind), `piaReason`, `piaSink` and `piaSourceMessageId`. Entries SQS refuses, and
 * every entry of a request that fails, are returned as unsent; throws only when nothing was sent.
 */
export function buildDeadLetter(client: SQSClient, config: DeadLetterConfig): DeadLetter {
  return async (letters) => {
    const unsent: string[] = [];
    let firstError: unknown;
    let failedRequests = 0;
    const groups = groupEntries(letters);
    for (const group of groups) {
      try {
        const output = await client.send(
          new SendMessageBatchCommand({
            QueueUrl: config.queueUrl,
            Entries: group.map(({ letter, attributes }, index) => ({
              Id: batchEntryId(index),
              MessageBody: letter.body,
              MessageAttributes: attributes,
            })),
          }),
        );
        for (const failed of output.Failed ?? []) {
          const index = batchEntryIndex(failed.Id ?? "");
          const entry = index === undefined ? undefined : group[index];
          if (entry !== undefined) unsent.push(entry.letter.messageId);
        }
      } catch (error: unknown) {
        firstError ??= error;
        failedRequests++;
        unsent.push(...group.map(({ letter }) => letter.messageId));
      }
    }
    if (groups.length > 0 && failedRequests === groups.length) throw firstError;
    return { unsent };
  };
}
