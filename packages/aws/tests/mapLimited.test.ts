import { describe, expect, it } from "vitest";
import { mapLimited } from "../src/mapLimited.js";

/** A promise with its resolve and reject, to settle work in a chosen order. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("mapLimited", () => {
  it("returns the results in the items' order, whatever order they finish in", async () => {
    const delays = [30, 0, 10, 5];
    const results = await mapLimited(delays, 2, async (ms, index) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return `${index}:${ms}`;
    });
    expect(results).toStrictEqual(["0:30", "1:0", "2:10", "3:5"]);
  });

  it("runs at most `limit` at a time, starting them in order", async () => {
    const gates = Array.from({ length: 5 }, () => deferred<void>());
    const started: number[] = [];
    const done = mapLimited(gates, 2, async (gate, index) => {
      started.push(index);
      await gate.promise;
    });
    await tick();
    expect(started).toStrictEqual([0, 1]);
    gates[1]?.resolve();
    await tick();
    expect(started).toStrictEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    await done;
    expect(started).toStrictEqual([0, 1, 2, 3, 4]);
  });

  it("starts nothing more after a failure, and throws it once the running work has settled", async () => {
    const slow = deferred<void>();
    const started: number[] = [];
    let slowSettled = false;
    const done = mapLimited([0, 1, 2, 3], 2, async (item) => {
      started.push(item);
      if (item === 0) {
        await slow.promise;
        slowSettled = true;
      }
      if (item === 1) throw new Error("item 1 failed");
    });
    const outcome = done.then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await tick();
    expect(started).toStrictEqual([0, 1]);
    slow.resolve();
    expect(await outcome).toBe("item 1 failed");
    expect(slowSettled).toBe(true);
    expect(started).toStrictEqual([0, 1]);
  });

  it("resolves with no results for no items", async () => {
    expect(await mapLimited([], 4, async () => 1)).toStrictEqual([]);
  });

  it.each([0, -1, 1.5, Number.NaN])("rejects a limit of %s, naming it", async (limit) => {
    await expect(mapLimited([1], limit, async (n) => n)).rejects.toThrow(/limit is .*whole number >= 1/);
  });
});
