import type { KinesisStreamEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import type { BatchResponse, GivenUp } from "../src/index.js";
import { KinesisMapping, kinesisSequenceNumber } from "../src/index.js";

/** A fake ingest: records every batch it is invoked with, and answers what `answer` says. */
function recordingHandler(
  answer: (event: KinesisStreamEvent, call: number) => BatchResponse | Error = () => ({
    batchItemFailures: [],
  }),
) {
  const batches: Array<Array<{ data: string; sequenceNumber: string }>> = [];
  const handler = async (event: KinesisStreamEvent): Promise<BatchResponse> => {
    batches.push(
      event.Records.map(({ kinesis }) => ({
        data: Buffer.from(kinesis.data, "base64").toString("utf8"),
        sequenceNumber: kinesis.sequenceNumber,
      })),
    );
    const response = answer(event, batches.length);
    if (response instanceof Error) throw response;
    return response;
  };
  return { handler, batches };
}

function mapping(
  handler: ReturnType<typeof recordingHandler>["handler"],
  options: { batchSize?: number; onFailure?: (failure: GivenUp) => void } = {},
) {
  return new KinesisMapping({
    handler,
    functionName: "ingest",
    region: "us-east-1",
    batchSize: options.batchSize ?? 500,
    maximumRetryAttempts: 2,
    ...(options.onFailure === undefined ? {} : { onFailure: options.onFailure }),
  });
}

const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, index) => `record ${from + index}`);

describe("the Kinesis mapping", () => {
  it("numbers records uniquely and increasingly, as numbers and as text, from one feed to the next", async () => {
    const { handler, batches } = recordingHandler();
    const kinesis = mapping(handler, { batchSize: 100 });
    await kinesis.feed(lines(1, 450));
    await kinesis.drain();
    await kinesis.feed(lines(451, 1200));
    await kinesis.drain();

    const numbers = batches.flat().map(({ sequenceNumber }) => sequenceNumber);
    expect(numbers).toHaveLength(1200);
    expect(new Set(numbers).size).toBe(1200);
    for (const [index, number] of numbers.entries()) {
      expect(number).toMatch(/^\d{56}$/);
      if (index === 0) continue;
      const previous = numbers[index - 1] as string;
      expect(BigInt(number) > BigInt(previous), `${previous} < ${number}`).toBe(true);
      expect(number > previous).toBe(true);
    }
    expect(kinesisSequenceNumber(41n)).not.toBe(kinesisSequenceNumber(441n));
  });

  it("retries from the record the handler reports as failed, not from one sharing its number", async () => {
    // Records 1, 41 and 441 once shared a sequence number: a failure of 441 retried from 1.
    const { handler, batches } = recordingHandler((event, call) => {
      const failed = event.Records[440]?.kinesis.sequenceNumber;
      return call === 1 && failed !== undefined
        ? { batchItemFailures: [{ itemIdentifier: failed }] }
        : { batchItemFailures: [] };
    });
    const kinesis = mapping(handler);
    await kinesis.feed(lines(1, 500));
    await kinesis.drain();

    expect(batches).toHaveLength(2);
    expect(batches[1]?.map(({ data }) => data)).toEqual(lines(441, 500));
  });

  it("delivers batches of batchSize as they fill, and the rest when drained", async () => {
    const { handler, batches } = recordingHandler();
    const kinesis = mapping(handler, { batchSize: 200 });
    await kinesis.feed(lines(1, 450));
    expect(batches.map((batch) => batch.length)).toEqual([200, 200]);
    await kinesis.drain();
    expect(batches.map((batch) => batch.length)).toEqual([200, 200, 50]);
    expect(kinesis.recordsPut).toBe(450);
  });

  it("retries a batch whose invocation throws, then gives it up to the on-failure destination", async () => {
    const { handler, batches } = recordingHandler(() => new Error("boom"));
    const failures: GivenUp[] = [];
    const kinesis = mapping(handler, { onFailure: (failure) => failures.push(failure) });
    await kinesis.feed(lines(1, 3));
    await kinesis.drain();

    // One attempt and maximumRetryAttempts (2) retries, as Lambda counts them.
    expect(batches).toHaveLength(3);
    expect(failures).toEqual([{ records: 3, lastError: "Error: boom" }]);
  });
});
