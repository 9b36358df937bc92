import { Logger } from "@aws-lambda-powertools/logger";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import {
  buildRulesTable,
  type CounterItem,
  chunk,
  lambdaContext,
  NO_SEQUENCE,
  parseMessageBody,
  userKey,
} from "@pia/aws";
import { counterKey, type Rule } from "@pia/core";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import { buildScheduleHandler } from "@pia/timeseries";
import type { ScheduledEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** "Fewer than 3 purchases in January": users with 1 or 2 are notified, users with 3 are not. */
function closingRule(id: string): Rule {
  return {
    id,
    event: "purchase",
    count: { op: "<", value: 3 },
    window: { from: "2021-01-01", to: "2021-01-31" },
    action: { type: "attribute", name: id, value: "Ready" },
    reset: false,
    enabled: true,
  };
}

const USERS = 60;
const AT = "2021-01-31T23:59:59.999Z";

const scheduled: ScheduledEvent = {
  version: "0",
  id: "run",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: "000000000000",
  time: "2021-02-01T01:00:00Z",
  region: "us-east-1",
  resources: [],
  detail: {},
};

let stack: LocalStack;
let documents: DynamoDBDocumentClient;
beforeAll(async () => {
  stack = await startLocalStack({ prefix: "overlap" });
  documents = DynamoDBDocumentClient.from(stack.clients.dynamodb);
}, 120_000);
afterAll(() => stack?.stop());

/** The rule pushed, and its counters as aggregate leaves them: user `n` has `n % 3 + 1` purchases. */
async function givenRule(rule: Rule): Promise<string[]> {
  await buildRulesTable(documents, stack.tableNames.rules).put([rule]);
  const key = counterKey(rule);
  const counters = Array.from({ length: USERS }, (_, n): CounterItem => {
    const userId = `${rule.id}-u${String(n).padStart(3, "0")}`;
    return {
      pk: userKey("app", userId),
      sk: key,
      counterKey: key,
      ruleId: rule.id,
      appId: "app",
      userId,
      count: (n % 3) + 1,
      sum: "0",
      fired: false,
      seq: NO_SEQUENCE,
      rev: 1,
    };
  });
  for (const items of chunk(counters, 25)) {
    await documents.send(
      new BatchWriteCommand({
        RequestItems: { [stack.tableNames.counters]: items.map((item) => ({ PutRequest: { Item: item } })) },
      }),
    );
  }
  return counters.filter((item) => item.count < 3).map((item) => `${item.userId}@${AT}`);
}

/** A gate a run waits at: `open()` lets it through. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/**
 * A schedule function instance. `holdFirstSend` pauses its first SendMessageBatch (after it stored
 * its firings) until the promise settles; `remainingMs` is what its Lambda context says is left.
 */
function scheduleFunction(options: { holdFirstSend?: Promise<void>; remainingMs?: number } = {}) {
  const sqs = new SQSClient({
    region: stack.region,
    endpoint: stack.sqsEndpoint,
    credentials: stack.credentials,
  });
  let held = false;
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "SendMessageBatchCommand" && !held && options.holdFirstSend !== undefined) {
        held = true;
        await options.holdFirstSend;
      }
      return next(args);
    },
    { step: "initialize", name: "holdFirstSend" },
  );
  const handler = buildScheduleHandler({
    config: {
      countersTable: stack.tableNames.counters,
      rulesTable: stack.tableNames.rules,
      eventsTable: stack.tableNames.events,
      notificationsQueueUrl: stack.queues.notifications.url,
      backfillLiveDelaySeconds: 120,
      backfillSettleSeconds: 120,
    },
    dynamodb: documents,
    sqs,
    logger: new Logger({ logLevel: "SILENT" }),
  });
  const context = {
    ...lambdaContext("pia-timeseries"),
    getRemainingTimeInMillis: () => options.remainingMs ?? 900_000,
  };
  return () => handler(scheduled, context);
}

/** Every message on the notifications queue, taken off it: `user@at` by notification id, and how often. */
async function drainQueue(): Promise<{ sent: Map<string, string>; copies: Map<string, number> }> {
  const sent = new Map<string, string>();
  const copies = new Map<string, number>();
  for (;;) {
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.notifications.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 600,
      }),
    );
    if (Messages.length === 0) return { sent, copies };
    for (const message of Messages) {
      const { id, notification } = parseMessageBody(message.Body ?? "");
      sent.set(id, `${notification.userId}@${notification.at}`);
      copies.set(id, (copies.get(id) ?? 0) + 1);
    }
  }
}

/** The rule's decision item and counters, read consistently. */
async function finalState(rule: Rule) {
  const key = counterKey(rule);
  const { Item: decision } = await documents.send(
    new GetCommand({
      TableName: stack.tableNames.rules,
      Key: { pk: "decided", sk: key },
      ConsistentRead: true,
    }),
  );
  const counters: CounterItem[] = [];
  for (let n = 0; n < USERS; n++) {
    const { Item } = await documents.send(
      new GetCommand({
        TableName: stack.tableNames.counters,
        Key: { pk: userKey("app", `${rule.id}-u${String(n).padStart(3, "0")}`), sk: key },
        ConsistentRead: true,
      }),
    );
    counters.push(Item as CounterItem);
  }
  return { decision, counters };
}

function expectDecidedOnce(state: Awaited<ReturnType<typeof finalState>>) {
  expect(state.decision).toStrictEqual({
    pk: "decided",
    sk: state.decision?.sk,
    decidedAt: "2021-02-01T01:00:00.000Z",
  });
  for (const counter of state.counters) {
    expect(counter.fired).toBe(counter.count < 3);
    expect(counter.pending).toBeUndefined();
  }
}

describe("overlapping schedule runs on DynamoDB Local", () => {
  it("a run that starts while another is sending leaves the rule to it: every notification sent once", async () => {
    const rule = closingRule("overlap");
    const expected = await givenRule(rule);
    const secondDone = gate();
    const first = scheduleFunction({ holdFirstSend: secondDone.opened });
    const second = scheduleFunction();

    // The first run fires every counter, then waits at its first send while the second runs whole.
    const firstRun = first();
    for (;;) {
      const { Items = [] } = await documents.send(
        new QueryCommand({
          TableName: stack.tableNames.counters,
          IndexName: "byRule",
          KeyConditionExpression: "counterKey = :key",
          ExpressionAttributeValues: { ":key": counterKey(rule) },
        }),
      );
      if (Items.filter((item) => item.fired === true).length === expected.length) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await second();
    secondDone.open();
    await firstRun;
    // A later run finds the rule decided.
    await scheduleFunction()();

    const { sent, copies } = await drainQueue();
    expect([...sent.values()].sort()).toStrictEqual(expected);
    expect([...copies].filter(([, count]) => count !== 1)).toStrictEqual([]);
    expectDecidedOnce(await finalState(rule));
  }, 120_000);

  it("two runs started together decide each rule once", async () => {
    const rules = [closingRule("together-a"), closingRule("together-b")];
    const expected: string[] = [];
    for (const rule of rules) expected.push(...(await givenRule(rule)));
    await buildRulesTable(documents, stack.tableNames.rules).put(rules);

    await Promise.all([scheduleFunction()(), scheduleFunction()()]);

    const { sent, copies } = await drainQueue();
    expect([...sent.values()].sort()).toStrictEqual(expected.sort());
    expect([...copies].filter(([, count]) => count !== 1)).toStrictEqual([]);
    for (const rule of rules) expectDecidedOnce(await finalState(rule));
  }, 120_000);

  it("a run that died part-way leaves its rule to the first run after its deadline, which sends what it left", async () => {
    const rule = closingRule("takeover");
    const expected = await givenRule(rule);
    // Stuck at its first send for good, as a run Lambda stopped at its timeout: 50 ms from its start.
    const stuck = scheduleFunction({ holdFirstSend: new Promise<void>(() => {}), remainingMs: 50 });
    // middy gives up on it at its deadline, as Lambda would; its work goes on until its send.
    const stuckRun = stuck().then(
      () => "finished",
      (error: unknown) => String(error),
    );
    for (;;) {
      const state = await finalState(rule);
      if (state.counters.filter((counter) => counter.fired).length === expected.length) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await stuckRun).toMatch(/aborted/);

    await scheduleFunction()();

    const { sent, copies } = await drainQueue();
    expect([...sent.values()].sort()).toStrictEqual(expected);
    expect([...copies].filter(([, count]) => count !== 1)).toStrictEqual([]);
    expectDecidedOnce(await finalState(rule));
  }, 120_000);
});
