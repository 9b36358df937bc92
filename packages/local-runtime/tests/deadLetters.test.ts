import { Logger } from "@aws-lambda-powertools/logger";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { listDeadLetters, redriveDeadLetters, toMessageBody } from "@pia/aws";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import { buildNotifyHandler, type Sink } from "@pia/notifier";
import type { Context, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ prefix: "dlq" });
});
afterAll(() => stack.stop());

const context = {
  functionName: "notifier",
  awsRequestId: "n",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

async function receiveAll(queueUrl: string): Promise<SQSEvent> {
  const { Messages = [] } = await stack.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, AttributeNames: ["All"] }),
  );
  return {
    Records: Messages.map((message) => ({
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      attributes: (message.Attributes ?? {}) as SQSEvent["Records"][number]["attributes"],
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: stack.queues.notifications.arn,
      awsRegion: "us-east-1",
    })),
  };
}

describe("a notification a sink refuses", () => {
  it("lands in the DLQ with its reason, and a redrive after the fix delivers it once", async () => {
    let fixed = false;
    const delivered: string[] = [];
    const sink: Sink = {
      name: "pinpoint",
      deliver: async (batch) =>
        batch.map(({ id }) => {
          if (!fixed)
            return {
              id,
              status: "permanent" as const,
              error: "the user has no endpoint in the Pinpoint app",
            };
          delivered.push(id);
          return { id, status: "delivered" as const };
        }),
    };
    const notify = buildNotifyHandler({
      config: {
        sink: { name: "file", path: "/dev/null" },
        sinks: [],
        deliveredTable: stack.tableNames.delivered,
        deliveredRetentionDays: 14,
        deadLetterQueueUrl: stack.queues.notifications.dlqUrl,
      },
      dynamodb: DynamoDBDocumentClient.from(stack.clients.dynamodb),
      sqs: stack.clients.sqs,
      logger: new Logger({ logLevel: "SILENT" }),
      sink,
    });
    const body = toMessageBody({
      id: "fire-1",
      notification: {
        appId: "app",
        userId: "u1",
        ruleId: "r1",
        type: "attribute",
        name: "a",
        value: "Ready",
        at: "2021-01-01T00:00:00.000Z",
      },
    });
    await stack.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queues.notifications.url, MessageBody: body }),
    );

    const first = await notify(await receiveAll(stack.queues.notifications.url), context);
    expect(first?.batchItemFailures).toEqual([]);
    const letters = await listDeadLetters(stack.clients.sqs, stack.queues.notifications.dlqUrl, 10);
    expect(letters).toMatchObject([
      {
        notificationId: "fire-1",
        ruleId: "r1",
        failure: "permanent",
        sink: "pinpoint",
        reason: "the user has no endpoint in the Pinpoint app",
      },
    ]);

    fixed = true;
    const moved = await redriveDeadLetters(stack.clients.sqs, {
      dlqUrl: stack.queues.notifications.dlqUrl,
      queueUrl: stack.queues.notifications.url,
      max: 10,
    });
    expect(moved).toBe(1);
    await notify(await receiveAll(stack.queues.notifications.url), context);
    expect(delivered).toEqual(["fire-1"]);
    expect(await listDeadLetters(stack.clients.sqs, stack.queues.notifications.dlqUrl, 10)).toEqual([]);
  });
});
