import { Logger } from "@aws-lambda-powertools/logger";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { buildAggregateHandler } from "@pia/aggregate";
import { buildRulesTable, parseMessageBody, toEventItem } from "@pia/aws";
import type { Rule } from "@pia/core";
import { parseRecord } from "@pia/core";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import type { Context, DynamoDBStreamEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const RULES: Rule[] = [
  {
    id: "views",
    event: "pageview",
    count: { op: ">", value: 3 },
    action: { type: "attribute", name: "views", value: "Ready" },
    reset: false,
    enabled: true,
  },
  {
    id: "every-3",
    event: "pageview",
    count: { op: "=", value: 3 },
    action: { type: "event", name: "trk_three" },
    reset: true,
    enabled: true,
  },
];

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ prefix: "race" });
  await buildRulesTable(DynamoDBDocumentClient.from(stack.clients.dynamodb), stack.tableNames.rules).put(
    RULES,
  );
});
afterAll(() => stack.stop());

function streamEvent(user: string, count: number, from = 1): DynamoDBStreamEvent {
  return {
    Records: Array.from({ length: count }, (_, index) => {
      const n = from + index;
      const outcome = parseRecord(
        JSON.stringify({
          event_type: "pageview",
          event_timestamp: n,
          application: { app_id: "app" },
          endpoint: { Id: "ep", User: { UserId: user } },
        }),
      );
      if (outcome.kind !== "event") throw new Error("fixture");
      const image = marshall(toEventItem(outcome.event, 2_000_000_000), { removeUndefinedValues: true });
      return {
        eventName: "INSERT" as const,
        eventSource: "aws:dynamodb",
        dynamodb: { SequenceNumber: String(1000 + n), NewImage: image as never, Keys: {} },
      };
    }),
  };
}

const context = {
  functionName: "race",
  awsRequestId: "r",
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

describe("aggregate on DynamoDB Local", () => {
  it("two invocations racing on the same user's records stay exact", async () => {
    const build = () =>
      buildAggregateHandler({
        config: {
          countersTable: stack.tableNames.counters,
          rulesTable: stack.tableNames.rules,
          eventsTable: stack.tableNames.events,
          notificationsQueueUrl: stack.queues.notifications.url,
          rulesCacheSeconds: 60,
        },
        dynamodb: DynamoDBDocumentClient.from(stack.clients.dynamodb),
        sqs: stack.clients.sqs,
        logger: new Logger({ logLevel: "SILENT" }),
      });
    const [first, second] = [build(), build()];
    const users = ["r1", "r2", "r3", "r4", "r5", "r6"];
    // A retry overlapping the original invocation: the original has records 1-6, the retry 1-9.
    // Without the conditional write, the slower of the two would overwrite the other's totals.
    for (const user of users) {
      await Promise.all([first(streamEvent(user, 6), context), second(streamEvent(user, 9), context)]);
    }
    const documents = DynamoDBDocumentClient.from(stack.clients.dynamodb);
    for (const user of users) {
      const { Items = [] } = await documents.send(
        new QueryCommand({
          TableName: stack.tableNames.counters,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": `3:app#${user}` },
          ConsistentRead: true,
        }),
      );
      const everyThree = Items.find((item) => item.ruleId === "every-3");
      expect(everyThree).toMatchObject({ count: 0 });
      expect(everyThree?.seq).toBe(String(1009).padStart(40, "0"));
      expect(everyThree?.pending).toBeUndefined();
    }
    const ids = new Map<string, string>();
    for (;;) {
      const { Messages = [] } = await stack.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.queues.notifications.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        const { id, notification } = parseMessageBody(message.Body ?? "");
        ids.set(id, `${notification.userId}:${notification.ruleId}@${notification.at}`);
      }
    }
    expect([...ids.values()].sort()).toEqual(
      users.flatMap((user) => [
        `${user}:every-3@1970-01-01T00:00:00.003Z`,
        `${user}:every-3@1970-01-01T00:00:00.006Z`,
        `${user}:every-3@1970-01-01T00:00:00.009Z`,
        `${user}:views@1970-01-01T00:00:00.004Z`,
      ]),
    );
  });
});
