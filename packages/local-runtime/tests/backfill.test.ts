import { Logger } from "@aws-lambda-powertools/logger";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import {
  type BackfillJob,
  buildRulesTable,
  historyOrder,
  holdMatches,
  lambdaContext,
  paddedSequence,
  parseMessageBody,
  toEventItem,
  userKey,
} from "@pia/aws";
import {
  type CounterRule,
  canonicalDecimal,
  compileRule,
  counterKey,
  Engine,
  type PiaEvent,
  type Rule,
} from "@pia/core";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import { buildScheduleHandler } from "@pia/timeseries";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The backfill job on DynamoDB Local, through the schedule handler: history stored before the
// boundary is merged into every user's counters exactly as the core Engine decides over the same
// events in time order, the live matches a counter held are applied after it, and events that
// arrived at or after the boundary are left to the live path.

const RULES: Rule[] = [
  {
    id: "buyer",
    event: "purchase",
    count: { op: ">=", value: 3 },
    action: { type: "attribute", name: "buyer", value: "Ready" },
    reset: false,
    enabled: true,
  },
  {
    id: "every-2",
    event: "purchase",
    count: { op: "=", value: 2 },
    action: { type: "event", name: "trk_two" },
    reset: true,
    enabled: true,
  },
  {
    id: "chairs",
    event: "purchase",
    where: { product: "chair" },
    sum: { metric: "price", op: ">=", value: "100" },
    action: { type: "attribute", name: "chairs", value: "Ready" },
    reset: false,
    enabled: true,
  },
  {
    id: "mid-feb",
    event: "purchase",
    count: { op: ">=", value: 2 },
    window: { from: "2026-02-10", to: "2026-02-20" },
    action: { type: "attribute", name: "mid_feb", value: "Ready" },
    reset: false,
    enabled: true,
  },
];

/** The wall clock of the first run; the history is February's. */
const T0 = Date.parse("2026-03-01T12:00:00Z");
const LIVE_DELAY_S = 120;
const SETTLE_S = 120;

/** A deterministic generator, so the history is the same on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

function purchase(user: string, n: number, at: number, product: string, price: string): PiaEvent {
  return {
    identity: `${user}-${n}`,
    appId: "app",
    userId: user,
    eventType: "purchase",
    timestamp: at,
    attributes: { product },
    metrics: [["price", price]],
  };
}

const next = random(7);
const USERS = Array.from({ length: 12 }, (_, index) => `u${index}`);
/** Every user's history, stored in no particular order; some items carry no arrival stamp. */
const HISTORY: PiaEvent[] = USERS.flatMap((user) =>
  Array.from({ length: Math.floor(next() * 7) }, (_, n) =>
    purchase(
      user,
      n,
      Date.parse("2026-02-01T00:00:00Z") + Math.floor(next() * 27 * 86_400_000),
      next() < 0.5 ? "chair" : "table",
      (10 + Math.floor(next() * 60)).toString(),
    ),
  ),
);
/** A user whose counter held one live match (aggregate, between the boundary and settledAt). */
const HELD_USER = "held";
const HELD_HISTORY = [
  purchase(HELD_USER, 1, Date.parse("2026-02-03T10:00:00Z"), "table", "5"),
  purchase(HELD_USER, 2, Date.parse("2026-02-04T10:00:00Z"), "table", "5"),
];
const HELD_LIVE = purchase(HELD_USER, 3, T0 + 200_000, "table", "5");
/** An event that arrived after the boundary: the live path's, never the history's. */
const LATE = purchase("u0", 99, Date.parse("2026-02-15T10:00:00Z"), "chair", "500");

let stack: LocalStack;
let documents: DynamoDBDocumentClient;

async function storeEvent(event: PiaEvent, arrivedAt: number | undefined): Promise<void> {
  const item = toEventItem(event, 2_000_000_000, { typeDay: true });
  await documents.send(
    new PutCommand({
      TableName: stack.tableNames.events,
      Item: arrivedAt === undefined ? item : { ...item, arrivedAt },
    }),
  );
}

beforeAll(async () => {
  stack = await startLocalStack({ prefix: "backfill" });
  documents = DynamoDBDocumentClient.from(stack.clients.dynamodb);
  const pushed = await buildRulesTable(documents, stack.tableNames.rules, { now: () => T0 }).put(RULES, {
    backfill: { mode: "notify" },
  });
  expect(pushed.backfill?.requested.sort()).toEqual(RULES.map((rule) => rule.id).sort());
  for (const [index, event] of [...HISTORY, ...HELD_HISTORY].entries()) {
    // Every third item predates arrival stamps: history to every backfill.
    await storeEvent(event, index % 3 === 0 ? undefined : T0 - 3_600_000);
  }
});
afterAll(() => stack.stop());

/** What the core Engine decides for one rule over these events in time order. */
function engineOf(rule: Rule, history: readonly PiaEvent[], live: readonly PiaEvent[] = []) {
  const engine = new Engine([rule]);
  const fromHistory = [...history].sort(historyOrder).flatMap((event) => engine.apply(event));
  const fromLive = live.flatMap((event) => engine.apply(event));
  return { engine, fromHistory, fromLive };
}

async function receiveAll(): Promise<string[]> {
  const seen = new Map<string, string>();
  for (;;) {
    const { Messages = [] } = await stack.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.notifications.url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 60,
      }),
    );
    if (Messages.length === 0) return [...seen.values()].sort();
    for (const message of Messages) {
      const { id, notification } = parseMessageBody(message.Body ?? "");
      seen.set(id, `${notification.userId}:${notification.ruleId}@${notification.at}`);
    }
  }
}

describe("backfill on DynamoDB Local", () => {
  it("merges the stored history into every user's counters as the Engine decides it, and notifies once per user", async () => {
    let now = T0;
    const backfillCounts: unknown[] = [];
    const handler = buildScheduleHandler({
      config: {
        countersTable: stack.tableNames.counters,
        rulesTable: stack.tableNames.rules,
        eventsTable: stack.tableNames.events,
        notificationsQueueUrl: stack.queues.notifications.url,
        backfillLiveDelaySeconds: LIVE_DELAY_S,
        backfillSettleSeconds: SETTLE_S,
      },
      dynamodb: documents,
      sqs: stack.clients.sqs,
      logger: new Logger({ logLevel: "SILENT" }),
      clock: () => now,
      onCounts: (counts) => backfillCounts.push(counts.backfill),
    });
    const context = lambdaContext("pia-timeseries", "backfill");
    const rulesTable = buildRulesTable(documents, stack.tableNames.rules);

    // The rolling run sets every boundary (the rules are stored).
    await handler({ job: "rolling", time: new Date(now).toISOString() }, context);
    const settling = await rulesTable.backfills.list();
    const boundary = T0 + LIVE_DELAY_S * 1000;
    expect(settling.map((job) => [job.state, job.boundary, job.settledAt])).toEqual(
      RULES.map(() => ["settling", boundary, boundary + SETTLE_S * 1000]),
    );

    // Between the boundary and settledAt: an event arrives late for u0 (the live path's), and
    // aggregate holds HELD_USER's live match of `buyer` in its counter.
    await storeEvent(LATE, boundary + 1_000);
    for (const event of HELD_HISTORY) await storeEvent(event, T0 - 60_000);
    await storeEvent(HELD_LIVE, boundary + 2_000);
    const buyer = RULES[0] as Rule;
    const compiled = compileRule(buyer) as CounterRule;
    const held = holdMatches(
      compiled,
      { pk: userKey("app", HELD_USER), sk: counterKey(buyer), appId: "app", userId: HELD_USER },
      undefined,
      [{ at: HELD_LIVE.timestamp, seq: paddedSequence("777"), metric: "5" }],
    );
    await documents.send(new PutCommand({ TableName: stack.tableNames.counters, Item: held }));

    // After settledAt and the margin: one scheduled run takes every job to done.
    now = boundary + SETTLE_S * 1000 + 60_000 + 1;
    await handler(
      {
        version: "0",
        id: "run",
        "detail-type": "Scheduled Event",
        source: "aws.events",
        account: "123456789012",
        time: new Date(now).toISOString(),
        region: "us-east-1",
        resources: [],
        detail: {},
      },
      { ...context, getRemainingTimeInMillis: () => 900_000 },
    );
    const jobs = await rulesTable.backfills.list();
    expect(jobs.map((job: BackfillJob) => job.state)).toEqual(RULES.map(() => "done"));

    const expected: string[] = [];
    const users = [...USERS, HELD_USER];
    for (const rule of RULES) {
      for (const user of users) {
        const history = [...HISTORY, ...HELD_HISTORY].filter((event) => event.userId === user);
        const live = user === HELD_USER && rule.id === "buyer" ? [HELD_LIVE] : [];
        const { engine, fromHistory, fromLive } = engineOf(rule, history, live);
        const last = fromHistory[fromHistory.length - 1];
        if (last !== undefined) expected.push(`${user}:${rule.id}@${last.at}`);
        for (const notification of fromLive) expected.push(`${user}:${rule.id}@${notification.at}`);

        const { Items = [] } = await documents.send(
          new QueryCommand({
            TableName: stack.tableNames.counters,
            KeyConditionExpression: "pk = :pk AND sk = :sk",
            ExpressionAttributeValues: { ":pk": userKey("app", user), ":sk": counterKey(rule) },
            ConsistentRead: true,
          }),
        );
        const state = engine.stateOf("app", user, rule.id);
        const stored = Items[0];
        if (state === undefined || !("fired" in state)) {
          expect(stored, `${user} ${rule.id}`).toBeUndefined();
          continue;
        }
        // A fired once-per-user rule's totals no longer matter (isSettled): the Engine stops
        // counting at the firing, a merge may count the rest of the history; both fired.
        expect(stored, `${user} ${rule.id}`).toMatchObject(
          state.fired && !rule.reset
            ? { fired: true }
            : { count: state.count, sum: canonicalDecimal(state.sum), fired: state.fired },
        );
        expect(stored?.held, `${user} ${rule.id}`).toBeUndefined();
        expect(stored?.pending, `${user} ${rule.id}`).toBeUndefined();
      }
    }
    expect(expected.length).toBeGreaterThan(5);
    expect(await receiveAll()).toEqual(expected.sort());
    // The late event never counted as history: u0's chairs sum excludes its 500.
    expect(expected.filter((line) => line.includes(LATE.timestamp.toString()))).toEqual([]);
    expect(backfillCounts.at(-1)).toMatchObject({
      usersMerged: expect.any(Number),
      notifications: expected.length,
    });
    const progress = jobs.reduce((total, job) => total + job.progress.notifications, 0);
    expect(progress).toBe(expected.length);
  });
});
