import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { fileURLToPath } from "node:url";
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { QUEUES, TABLES, type TableDefinition, type TableName } from "@pia/aws";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { type LocalStack, startLocalStack } from "../src/index.js";

const PROCESS_EVENTS = ["exit", "SIGINT", "SIGTERM", "uncaughtExceptionMonitor"] as const;
let listenersBefore: number[];
let stack: LocalStack;
let startMs: number;

beforeAll(async () => {
  listenersBefore = PROCESS_EVENTS.map((event) => process.listenerCount(event));
  const started = performance.now();
  stack = await startLocalStack({ prefix: "test" });
  startMs = performance.now() - started;
  console.info(`startLocalStack took ${Math.round(startMs)} ms`);
});

afterAll(async () => {
  await stack?.stop();
});

/** The errno `process.kill(pid, 0)` gives: ESRCH once the process is gone, undefined while it runs. */
function probe(pid: number): string | undefined {
  try {
    process.kill(pid, 0);
    return undefined;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code;
  }
}

/**
 * Whether the process still runs. A process that has exited but whose parent died too is a zombie
 * until init reaps it; `kill(pid, 0)` still succeeds on it, and some container inits never reap.
 * A zombie runs no code and holds no port, so it counts as gone.
 */
function isRunning(pid: number): boolean {
  if (probe(pid) === "ESRCH") return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function waitUntilGone(pid: number, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

/** The promise's value, or a failure naming what did not happen in time. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`waited ${timeoutMs} ms for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every record of a stream so far, from all shards, oldest first within each shard. */
async function readStream(streamArn: string): Promise<StreamRecord[]> {
  const { streams } = stack.clients;
  const described = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const records: StreamRecord[] = [];
  for (const shard of described.StreamDescription?.Shards ?? []) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    while (iterator !== undefined) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
      if ((page.Records ?? []).length === 0) break;
      records.push(...(page.Records ?? []));
      iterator = page.NextShardIterator;
    }
  }
  return records;
}

describe("startLocalStack", () => {
  it("creates every table with the key schema of TABLES, and TTL where defined", async () => {
    const names = Object.keys(TABLES) as TableName[];
    for (const name of names) {
      const definition: TableDefinition = TABLES[name];
      expect(stack.tableNames[name]).toBe(`test-${name}`);
      const { Table } = await stack.clients.dynamodb.send(
        new DescribeTableCommand({ TableName: stack.tableNames[name] }),
      );
      expect(Table?.TableStatus).toBe("ACTIVE");
      expect(Table?.KeySchema).toEqual(definition.KeySchema);
      // DescribeTable lists a table's indexes in no particular order.
      expect(Table?.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort()).toEqual(
        definition.GlobalSecondaryIndexes?.map((index) => index.IndexName).sort(),
      );
      const { TimeToLiveDescription } = await stack.clients.dynamodb.send(
        new DescribeTimeToLiveCommand({ TableName: stack.tableNames[name] }),
      );
      if (definition.ttlAttribute === undefined) {
        expect(TimeToLiveDescription?.TimeToLiveStatus).toBe("DISABLED");
      } else {
        expect(TimeToLiveDescription).toEqual({
          TimeToLiveStatus: "ENABLED",
          AttributeName: definition.ttlAttribute,
        });
      }
      expect(stack.streamArns[name] !== undefined).toBe(definition.StreamSpecification !== undefined);
    }
  });

  it("gives the events table a NEW_IMAGE stream and TTL on expiresAt", async () => {
    const { Table } = await stack.clients.dynamodb.send(
      new DescribeTableCommand({ TableName: stack.tableNames.events }),
    );
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: "NEW_IMAGE" });
    expect(Table?.LatestStreamArn).toBe(stack.streamArns.events);
    const { TimeToLiveDescription } = await stack.clients.dynamodb.send(
      new DescribeTimeToLiveCommand({ TableName: stack.tableNames.events }),
    );
    expect(TimeToLiveDescription?.TimeToLiveStatus).toBe("ENABLED");
    expect(TimeToLiveDescription?.AttributeName).toBe("expiresAt");
  });

  // The design depends on this: ingest puts an event item only if its key is not stored, so a
  // redelivered event (even with other content) changes nothing and the stream carries it once.
  it("refuses a conditional PutItem on a stored key, leaving the item and the stream as they were", async () => {
    const TableName = stack.tableNames.events;
    const item = { pk: { S: "app#user-stream" }, sk: { S: "event-1" }, amount: { N: "1" } };
    const putOnce = (Item: typeof item) =>
      stack.clients.dynamodb
        .send(new PutItemCommand({ TableName, Item, ConditionExpression: "attribute_not_exists(pk)" }))
        .then(
          () => "written",
          (error: unknown) => (error as Error).name,
        );
    expect(await putOnce(item)).toBe("written");
    expect(await putOnce(item)).toBe("ConditionalCheckFailedException");
    expect(await putOnce({ ...item, amount: { N: "2" } })).toBe("ConditionalCheckFailedException");
    // The user's next event: once its record is on the stream, any record of the refused puts
    // (same partition, so the same shard, in order) would be there too.
    expect(await putOnce({ ...item, sk: { S: "event-2" } })).toBe("written");

    const { Item } = await stack.clients.dynamodb.send(
      new GetItemCommand({ TableName, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }),
    );
    expect(Item?.amount?.N).toBe("1");
    const streamArn = stack.streamArns.events;
    if (streamArn === undefined) throw new Error("the events table has no stream");
    const deadline = Date.now() + 10_000;
    let ours: StreamRecord[] = [];
    do {
      ours = (await readStream(streamArn)).filter((record) => record.dynamodb?.Keys?.pk?.S === item.pk.S);
    } while (ours.at(-1)?.dynamodb?.Keys?.sk?.S !== "event-2" && Date.now() < deadline);

    expect(ours.map((record) => [record.eventName, record.dynamodb?.Keys?.sk?.S])).toEqual([
      ["INSERT", "event-1"],
      ["INSERT", "event-2"],
    ]);
    expect(ours[0]?.dynamodb?.NewImage?.amount?.N).toBe("1");
  });

  it("runs TransactWriteItems with conditions, all or nothing", async () => {
    const TableName = stack.tableNames.counters;
    const put = (sk: string, condition: boolean) => ({
      Put: {
        TableName,
        Item: { pk: { S: "app#user-tx" }, sk: { S: sk }, count: { N: "1" } },
        ...(condition ? { ConditionExpression: "attribute_not_exists(pk)" } : {}),
      },
    });
    await stack.clients.dynamodb.send(new TransactWriteItemsCommand({ TransactItems: [put("a", true)] }));

    const failed = await stack.clients.dynamodb
      .send(new TransactWriteItemsCommand({ TransactItems: [put("b", false), put("a", true)] }))
      .then(
        () => undefined,
        (error: unknown) => error as { name: string; CancellationReasons?: Array<{ Code?: string }> },
      );
    expect(failed?.name).toBe("TransactionCanceledException");
    expect(failed?.CancellationReasons?.map((reason) => reason.Code)).toEqual([
      "None",
      "ConditionalCheckFailed",
    ]);
    const b = await stack.clients.dynamodb.send(
      new GetItemCommand({ TableName, Key: { pk: { S: "app#user-tx" }, sk: { S: "b" } } }),
    );
    expect(b.Item).toBeUndefined();
  });

  it("sends, receives and deletes SQS messages", async () => {
    const queue = stack.queues.notifications;
    expect(queue.url).toMatch(/\/test-notifications$/);
    expect(queue.dlqUrl).toMatch(/\/test-notifications-dlq$/);
    expect(queue.arn).toMatch(/:test-notifications$/);
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "hello" }));
    const received = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages?.map((message) => message.Body)).toEqual(["hello"]);
    await stack.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: received.Messages?.[0]?.ReceiptHandle }),
    );
    const after = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, VisibilityTimeout: 0, WaitTimeSeconds: 0 }),
    );
    expect(after.Messages ?? []).toEqual([]);
  });

  it("moves a message received maxReceiveCount times without a delete to the DLQ", async () => {
    const queue = stack.queues.notifications;
    const { maxReceiveCount } = QUEUES.notifications;
    await stack.clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "poison" }));
    const receiveCounts: string[] = [];
    for (let attempt = 0; attempt <= maxReceiveCount; attempt++) {
      const received = await stack.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.url,
          VisibilityTimeout: 0,
          WaitTimeSeconds: 0,
          AttributeNames: ["All"],
        }),
      );
      for (const message of received.Messages ?? []) {
        receiveCounts.push(message.Attributes?.ApproximateReceiveCount ?? "?");
      }
    }
    expect(receiveCounts).toEqual(Array.from({ length: maxReceiveCount }, (_, index) => String(index + 1)));

    const dead = await stack.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 1, AttributeNames: ["All"] }),
    );
    expect(dead.Messages?.map((message) => message.Body)).toEqual(["poison"]);
  });
});

/**
 * The addresses by which other machines reach this one: every non-internal address (IPv6
 * link-local ones need a zone, so they carry their interface's name).
 */
function otherInterfaceAddresses(): string[] {
  return Object.entries(networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? [])
      .filter((address) => !address.internal)
      .map((address) =>
        address.family === "IPv6" && address.address.startsWith("fe80:")
          ? `${address.address}%${name}`
          : address.address,
      ),
  );
}

/** "connected", or the errno of a refused or failed TCP connect to host:port. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve("ETIMEDOUT");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe("the stack's servers are for this machine only", () => {
  const servers = () => [
    { name: "DynamoDB Local", endpoint: new URL(stack.dynamoEndpoint) },
    { name: "local SQS", endpoint: new URL(stack.sqsEndpoint) },
  ];

  it("accept connections on the loopback only, not on another interface of this machine", async () => {
    const others = otherInterfaceAddresses();
    if (others.length === 0) {
      throw new Error(
        "this machine has no network interface besides the loopback, so nothing can show that the servers refuse other interfaces: run this test where `ip addr` lists one (CI machines have eth0)",
      );
    }
    for (const { name, endpoint } of servers()) {
      const port = Number(endpoint.port);
      expect(endpoint.hostname, name).toBe("127.0.0.1");
      // The control: the server does listen, so a refusal below is about the interface.
      expect(await tryConnect("127.0.0.1", port), name).toBe("connected");
      for (const address of others) {
        expect(await tryConnect(address, port), `${name} on ${address}`).toBe("ECONNREFUSED");
      }
    }
  });

  it("allow no web page elsewhere to call them (no Access-Control-Allow-Origin, preflight or not)", async () => {
    for (const { name, endpoint } of servers()) {
      const preflight = await fetch(endpoint, {
        method: "OPTIONS",
        headers: {
          Origin: "https://attacker.example",
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
        },
      });
      await preflight.arrayBuffer();
      expect(preflight.headers.get("access-control-allow-origin"), `${name} preflight`).toBeNull();
      const post = await fetch(endpoint, {
        method: "POST",
        headers: { Origin: "https://attacker.example", "Content-Type": "text/plain" },
        body: "{}",
      });
      await post.arrayBuffer();
      expect(post.headers.get("access-control-allow-origin"), `${name} POST`).toBeNull();
    }
  });
});

describe.concurrent("a Node process that dies without stopping DynamoDB Local", () => {
  const fixture = fileURLToPath(new URL("./fixtures/startDynamoDbLocalChild.ts", import.meta.url));
  const packageRoot = fileURLToPath(new URL("..", import.meta.url));

  /**
   * Starts the fixture; resolves with the java pid it printed and its exit. Without the watchdog
   * only the process handlers can stop java, so a test proves they do. Whatever the test finds,
   * nothing it started outlives it.
   */
  function startChild(
    mode: "exit" | "wait",
    watchdog: "keep" | "kill",
    onTestFinished: TestContext["onTestFinished"],
  ) {
    const args = [fixture, mode, ...(watchdog === "kill" ? ["--no-watchdog"] : [])];
    const child = spawn(process.execPath, ["--import", "tsx", ...args], {
      cwd: packageRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    let printedPid: number | undefined;
    const javaPid = new Promise<number>((resolve, reject) => {
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        const line = /^(\d+) (watchdog-killed|watchdog-kept)\n/.exec(stdout);
        if (line === null) return;
        printedPid = Number(line[1]);
        if (line[2] === (watchdog === "kill" ? "watchdog-killed" : "watchdog-kept")) resolve(Number(line[1]));
        else reject(new Error(`the fixture reports ${line[2]}, the test asked to ${watchdog} it`));
      });
      const noPid = () => reject(new Error(`the fixture ended without printing a pid; stderr:\n${stderr}`));
      void exited.then(noPid);
    });
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (printedPid !== undefined && isRunning(printedPid)) process.kill(printedPid, "SIGKILL");
    });
    return { child, javaPid, exited };
  }

  it("process.exit(1) takes java with it", async ({ expect, onTestFinished }) => {
    const { javaPid, exited } = startChild("exit", "kill", onTestFinished);
    const pid = await javaPid;
    expect(await within(exited, 10_000, "the fixture to exit")).toEqual({ code: 1, signal: null });
    expect(await waitUntilGone(pid)).toBe(true);
  });

  it("SIGINT kills java, then the process dies of SIGINT", async ({ expect, onTestFinished }) => {
    const { child, javaPid, exited } = startChild("wait", "kill", onTestFinished);
    const pid = await javaPid;
    expect(isRunning(pid)).toBe(true);
    child.kill("SIGINT");
    expect(await within(exited, 10_000, "the fixture to exit")).toEqual({ code: null, signal: "SIGINT" });
    expect(await waitUntilGone(pid)).toBe(true);
  });

  it("SIGKILL, which runs no handler, still takes java with it (the watchdog)", async ({
    expect,
    onTestFinished,
  }) => {
    const { child, javaPid, exited } = startChild("wait", "keep", onTestFinished);
    const pid = await javaPid;
    expect(isRunning(pid)).toBe(true);
    child.kill("SIGKILL");
    expect(await within(exited, 10_000, "the fixture to exit")).toEqual({ code: null, signal: "SIGKILL" });
    expect(await waitUntilGone(pid)).toBe(true);
  });
});

describe("stop()", () => {
  it("stops java and the SQS server, and removes its process handlers", async () => {
    const pid = stack.dynamoDbPid;
    expect(probe(pid)).toBeUndefined();
    await stack.stop();
    expect(probe(pid)).toBe("ESRCH");
    await expect(fetch(stack.sqsEndpoint)).rejects.toThrow();
    expect(PROCESS_EVENTS.map((event) => process.listenerCount(event))).toEqual(listenersBefore);
    await stack.stop();
  });
});
