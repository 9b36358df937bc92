import { DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { Sink } from "@pia/notifier";
import { describe, expect, it } from "vitest";
import {
  crashesMidBatch,
  type FaultState,
  InjectedThrottlingError,
  injectDynamoDbFaults,
  injectSinkFaults,
  newFaultState,
} from "../src/faults.js";

/** A client whose requests never leave the process: `applied` lists those that reached "DynamoDB". */
function offlineClient(): { client: DynamoDBClient; applied: string[] } {
  const client = new DynamoDBClient({
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  const applied: string[] = [];
  client.middlewareStack.add(
    (_next, context) => async () => {
      applied.push(context.commandName ?? "");
      return { output: { $metadata: {} }, response: {} };
    },
    { step: "build", name: "offline" },
  );
  return { client, applied };
}

type Request = (client: DynamoDBClient) => Promise<unknown>;
const put: Request = (client) =>
  client.send(new PutItemCommand({ TableName: "t", Item: { pk: { S: "a" } } }));
const get: Request = (client) => client.send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "a" } } }));

/** What each request gave, in order: `ok` or the error's name. */
async function outcomes(client: DynamoDBClient, requests: Request[]): Promise<string[]> {
  const names: string[] = [];
  for (const request of requests) {
    try {
      await request(client);
      names.push("ok");
    } catch (error: unknown) {
      names.push(error instanceof Error ? error.name : String(error));
    }
  }
  return names;
}

describe("DynamoDB throttling", () => {
  it("fails every Nth request, reads and writes, before DynamoDB applies it, while armed", async () => {
    const { client, applied } = offlineClient();
    const state: FaultState = { ...newFaultState(), armed: true };
    injectDynamoDbFaults(client, { throttleDynamoDbEvery: 2 }, state);

    expect(await outcomes(client, [put, get, put, put])).toEqual([
      "ok",
      "ThrottlingException",
      "ok",
      "ProvisionedThroughputExceededException",
    ]);
    expect(applied).toEqual(["PutItemCommand", "PutItemCommand"]);
    expect(state.injected.throttleDynamoDb).toBe(2);

    state.armed = false;
    expect(await outcomes(client, [put, put, put])).toEqual(["ok", "ok", "ok"]);
    expect(state.injected.throttleDynamoDb).toBe(2);
  });

  it("keeps failing writes after they were applied, counted apart from throttling", async () => {
    const { client, applied } = offlineClient();
    const state: FaultState = { ...newFaultState(), armed: true };
    injectDynamoDbFaults(client, { failAfterWriteEvery: 2, throttleDynamoDbEvery: 3 }, state);

    expect(await outcomes(client, [put, put, put, get])).toEqual([
      "ok",
      "InjectedFaultError",
      "ThrottlingException",
      "ok",
    ]);
    expect(applied).toEqual(["PutItemCommand", "PutItemCommand", "GetItemCommand"]);
    expect(state.injected).toMatchObject({ failAfterWrite: 1, throttleDynamoDb: 1 });
  });
});

describe("sink throttling", () => {
  const message = (id: string) => ({ id }) as Parameters<Sink["deliver"]>[0][number];

  it("throws a retryable 429 every Nth call while armed, without delivering", async () => {
    const delivered: string[] = [];
    const sink: Sink = {
      name: "file",
      deliver: async (batch) =>
        batch.map(({ id }) => {
          delivered.push(id);
          return { id, status: "delivered" as const };
        }),
    };
    const state: FaultState = { ...newFaultState(), armed: true };
    const faulty = injectSinkFaults(sink, { throttleSinkEvery: 2 }, state);

    expect(faulty.name).toBe("file");
    await faulty.deliver([message("a")]);
    const error = await faulty.deliver([message("b")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InjectedThrottlingError);
    expect(error).toMatchObject({ name: "TooManyRequestsException", $metadata: { httpStatusCode: 429 } });
    state.armed = false;
    await faulty.deliver([message("b")]);
    await faulty.deliver([message("c")]);
    expect(delivered).toEqual(["a", "b", "c"]);
    expect(state.injected.throttleSink).toBe(1);
  });

  it("leaves the sink alone when not asked for", () => {
    const sink: Sink = { name: "file", deliver: async () => [] };
    expect(injectSinkFaults(sink, {}, newFaultState())).toBe(sink);
  });
});

describe("crashes mid-batch", () => {
  it("strike every Nth armed invocation only", () => {
    const state: FaultState = { ...newFaultState(), armed: true };
    const faults = { crashMidBatchEvery: 3 };
    const armed = [1, 2, 3, 4, 5, 6].map(() => crashesMidBatch(faults, state));
    state.armed = false;
    const disarmed = [1, 2, 3].map(() => crashesMidBatch(faults, state));
    expect(armed).toEqual([false, false, true, false, false, true]);
    expect(disarmed).toEqual([false, false, false]);
    expect(state.injected.crashMidBatch).toBe(2);
    expect(crashesMidBatch({}, { ...newFaultState(), armed: true })).toBe(false);
  });
});
