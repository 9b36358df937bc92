import { describe, expect, it } from "vitest";
import { StreamUnavailableError } from "../src/errors.js";
import type { StreamRecord } from "../src/ports.js";
import { makePutCalls, requestsOf } from "../src/putCalls.js";

const record = (i: number, size = 10): StreamRecord => ({
  data: `${i}`.padEnd(size, "x"),
  partitionKey: `u${i}`,
});
const records = (n: number, size?: number) => Array.from({ length: n }, (_, i) => record(i, size));

/** A clock that moves only when the code sleeps. */
function fakeTime() {
  let at = 0;
  const slept: number[] = [];
  return {
    now: () => at,
    sleep: async (ms: number) => {
      slept.push(ms);
      at += ms;
    },
    slept,
  };
}

describe("requestsOf", () => {
  it("splits at 500 records and at 5 MiB", () => {
    expect(requestsOf(records(1201)).map((r) => r.length)).toEqual([500, 500, 201]);
    const big = records(12, 1.2 * 1024 * 1024);
    expect(requestsOf(big).map((r) => r.length)).toEqual([4, 4, 4]);
    expect(requestsOf([])).toEqual([]);
  });
});

describe("makePutCalls", () => {
  it("retries only the records a partial failure left, with growing backoff, until all are put", async () => {
    const time = fakeTime();
    const sent: string[][] = [];
    const putCalls = makePutCalls({
      putRecords: async (batch) => {
        sent.push(batch.map((r) => r.partitionKey));
        // Fails the even records the first time, u0 once more.
        if (sent.length === 1) return batch.filter((_, i) => i % 2 === 0);
        if (sent.length === 2) return batch.slice(0, 1);
        return [];
      },
      ...time,
      random: () => 0.5,
      budgetMs: 3000,
    });
    expect(await putCalls(records(5))).toEqual({ put: 5, retries: 2 });
    expect(sent).toEqual([["u0", "u1", "u2", "u3", "u4"], ["u0", "u2", "u4"], ["u0"]]);
    expect(time.slept).toEqual([25, 50]);
  });

  it("retries a throttled request as a whole, and throws any other error", async () => {
    const time = fakeTime();
    let calls = 0;
    const throttled = makePutCalls({
      putRecords: async () => {
        calls++;
        if (calls === 1)
          throw Object.assign(new Error("slow down"), { name: "ProvisionedThroughputExceededException" });
        return [];
      },
      ...time,
      budgetMs: 3000,
    });
    expect(await throttled(records(3))).toEqual({ put: 3, retries: 1 });
    const denied = makePutCalls({
      putRecords: async () => {
        throw Object.assign(new Error("no"), { name: "AccessDeniedException" });
      },
      ...time,
      budgetMs: 3000,
    });
    await expect(denied(records(1))).rejects.toThrow("no");
  });

  it("gives up when the next try would start after the budget: StreamUnavailableError with what is left", async () => {
    const time = fakeTime();
    const putCalls = makePutCalls({
      putRecords: async (batch) => batch.slice(0, 2),
      ...time,
      random: () => 0.99,
      budgetMs: 1000,
    });
    const error = await putCalls(records(5)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamUnavailableError);
    expect(error).toMatchObject({ notPut: 2, total: 5 });
    expect(time.now()).toBeLessThan(1000);
  });
});
