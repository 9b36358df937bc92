import { type NotificationMessage, toMessageBody } from "@pia/aws";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeNotifyMessages, type NotifyDeps, type NotifyInput } from "../src/notifyMessages.js";
import type { Delivered, DeliveryResult } from "../src/ports.js";
import { fakeDeadLetter, fakeDelivered, fakeSink, input, message, recordingLog } from "./fixtures.js";

const AT = "2024-03-15T10:30:00.000Z";

/**
 * Message `seq` of stream `stream` (one (app, user, rule) state of a rolling rule): odd seqs enter
 * (`Ready`), even ones exit (`""`), all at one instant unless `at` says otherwise.
 */
function ordered(stream: string, seq: number, at = AT): NotificationMessage {
  return {
    id: `${stream}-${seq}`,
    notification: {
      appId: "app-1",
      userId: `user-of-${stream}`,
      ruleId: `rule-of-${stream}`,
      type: "attribute",
      name: "active",
      value: seq % 2 === 1 ? "Ready" : "",
      at,
      seq,
    },
    order: { stream, seq },
  };
}

let sqsIds = 0;
/** A received SQS message carrying `notification`, on receive `receiveCount`. */
function received(notification: NotificationMessage, receiveCount = 1): NotifyInput {
  sqsIds++;
  return { messageId: `sqs-${sqsIds}`, body: toMessageBody(notification), receiveCount };
}

function setup(overrides: Partial<NotifyDeps> = {}, marks: Record<string, number> = {}) {
  const sink = fakeSink();
  const delivered = fakeDelivered([], marks);
  const deadLetter = fakeDeadLetter();
  const log = recordingLog();
  const notify = makeNotifyMessages({
    sink: sink.sink,
    delivered: delivered.delivered,
    deadLetter: deadLetter.deadLetter,
    log,
    maxReceives: 5,
    ...overrides,
  });
  return { notify, sink, delivered, deadLetter, log };
}

/** The ids of each sink call. */
function callIds(calls: ReadonlyArray<readonly NotificationMessage[]>): string[][] {
  return calls.map((call) => call.map(({ id }) => id));
}

function failures(...inputs: NotifyInput[]) {
  return inputs.map(({ messageId }) => ({ itemIdentifier: messageId }));
}

describe("ordered streams (rolling windows)", () => {
  it("holds seq 2 back until seq 1 is delivered, across batches, without dead-lettering it", async () => {
    const { notify, sink, deadLetter, delivered } = setup();
    const second = received(ordered("s", 2));

    const first = await notify([second]);

    expect(first.batchItemFailures).toStrictEqual(failures(second));
    expect(first.counts).toMatchObject({ delivered: 0, held: 1, retry: 0, exhausted: 0 });
    expect(sink.calls).toStrictEqual([]);
    expect(deadLetter.letters).toStrictEqual([]);

    expect((await notify([received(ordered("s", 1))])).counts).toMatchObject({ delivered: 1 });
    const again = await notify([{ ...second, receiveCount: 2 }]);

    expect(again).toMatchObject({ batchItemFailures: [], counts: { delivered: 1, held: 0 } });
    expect(sink.delivered.map(({ id }) => id)).toStrictEqual(["s-1", "s-2"]);
    expect(delivered.advanceCalls).toStrictEqual([
      ["s", 0, 1],
      ["s", 1, 2],
    ]);
    expect(delivered.marks.get("s")).toBe(2);
  });

  it("delivers seq 2 after seq 1 in one batch, in two sink calls, and advances the mark after each", async () => {
    const { notify, sink, delivered } = setup();
    const advancedBeforeSecondCall: number[] = [];
    const deliver = sink.sink.deliver;
    sink.sink.deliver = async (batch, options) => {
      advancedBeforeSecondCall.push(delivered.marks.get("s") ?? 0);
      return deliver(batch, options);
    };

    const result = await notify([received(ordered("s", 2)), received(ordered("s", 1))]);

    expect(result).toMatchObject({ batchItemFailures: [], counts: { delivered: 2 } });
    expect(callIds(sink.calls)).toStrictEqual([["s-1"], ["s-2"]]);
    // A crash during the second call re-delivers at most seq 2: seq 1's mark is already written.
    expect(advancedBeforeSecondCall).toStrictEqual([0, 1]);
    expect(delivered.markCalls).toStrictEqual([["s-1", "s-2"]]);
  });

  it("acknowledges seq 1 received again after seq 2 was delivered, without delivering it (superseded)", async () => {
    // The ids are not remembered (expired, or their mark was lost): only the stream's mark says.
    const { notify, sink } = setup({
      delivered: { ...fakeDelivered([], { s: 2 }).delivered, has: async () => new Set() },
    });

    const result = await notify([received(ordered("s", 1), 3), received(ordered("s", 2))]);

    expect(result).toMatchObject({ batchItemFailures: [], counts: { delivered: 0, superseded: 2 } });
    expect(sink.calls).toStrictEqual([]);
  });

  it("ends a redelivered entry, exit, entry with the last one applied", async () => {
    const { notify, sink } = setup({
      delivered: { ...fakeDelivered().delivered, has: async () => new Set() },
    });

    await notify([received(ordered("s", 1)), received(ordered("s", 2))]);
    const late = await notify([received(ordered("s", 1), 2), received(ordered("s", 3))]);

    expect(late.counts).toMatchObject({ delivered: 1, superseded: 1 });
    expect(sink.delivered.map(({ id }) => id)).toStrictEqual(["s-1", "s-2", "s-3"]);
  });

  it("treats an id the delivered table has as the stream's position: older ones are superseded", async () => {
    const { notify, sink } = setup();
    await notify([received(ordered("s", 1))]);
    // The mark of seq 1 is written; pretend seq 2 was delivered and its id recorded, mark lost.
    const table = fakeDelivered(["s-2"], { s: 1 });
    const { notify: again } = setup({ delivered: table.delivered, sink: sink.sink });

    const result = await again([received(ordered("s", 2), 2), received(ordered("s", 3))]);

    expect(result.counts).toMatchObject({ duplicate: 1, delivered: 1 });
    expect(table.advanceCalls).toStrictEqual([["s", 1, 3]]);
  });

  it("delivers an entry and an exit of one instant in two calls, entry first, whatever the batch order", async () => {
    const { notify, sink } = setup();
    const exit = ordered("s", 2, AT);
    const entry = ordered("s", 1, AT);

    await notify([received(exit), received(entry)]);

    expect(sink.calls).toStrictEqual([[entry], [exit]]);
    expect(sink.delivered.at(-1)?.notification.value).toBe("");
  });

  it("interleaves streams: each call has each stream's next message, and the unordered ones go first", async () => {
    const { notify, sink } = setup();
    const plain = message("plain-1");

    const result = await notify(
      [ordered("a", 3), ordered("b", 2), ordered("a", 1), plain, ordered("b", 1), ordered("a", 2)].map((m) =>
        received(m),
      ),
    );

    expect(result.counts).toMatchObject({ delivered: 6 });
    expect(callIds(sink.calls)).toStrictEqual([["plain-1", "a-1", "b-1"], ["a-2", "b-2"], ["a-3"]]);
  });

  it("holds k+1.. back when the sink asks to retry k; other streams go on", async () => {
    const sink = fakeSink(
      ({ id }): DeliveryResult =>
        id === "a-1" ? { id, status: "retry", error: "throttled (429)" } : { id, status: "delivered" },
    );
    const { notify, delivered } = setup({ sink: sink.sink });
    const a1 = received(ordered("a", 1));
    const a2 = received(ordered("a", 2));
    const a3 = received(ordered("a", 3));

    const result = await notify([a3, a1, received(ordered("b", 1)), a2, received(ordered("b", 2))]);

    expect(result.batchItemFailures).toStrictEqual(failures(a3, a1, a2));
    expect(result.counts).toMatchObject({ delivered: 2, retry: 1, held: 2 });
    expect(callIds(sink.calls)).toStrictEqual([["a-1", "b-1"], ["b-2"]]);
    expect(delivered.advanceCalls).toStrictEqual([
      ["b", 0, 1],
      ["b", 1, 2],
    ]);
  });

  it("holds k+1 back when the sink deferred k for lack of time", async () => {
    const sink = fakeSink(
      ({ id }): DeliveryResult =>
        id === "a-1"
          ? { id, status: "retry", error: "out of time", deferred: true }
          : { id, status: "delivered" },
    );
    const { notify } = setup({ sink: sink.sink });

    const result = await notify([received(ordered("a", 1)), received(ordered("a", 2))], { deadline: 1 });

    expect(result.counts).toMatchObject({ delivered: 0, retry: 1, held: 1 });
    expect(callIds(sink.calls)).toStrictEqual([["a-1"]]);
  });

  it("goes on after a message the sink refused for good, without marking it", async () => {
    const sink = fakeSink(
      ({ id }): DeliveryResult =>
        id === "a-1" ? { id, status: "permanent", error: "refused" } : { id, status: "delivered" },
    );
    const { notify, delivered, deadLetter } = setup({ sink: sink.sink });

    const result = await notify([received(ordered("a", 1)), received(ordered("a", 2))]);

    expect(result).toMatchObject({ batchItemFailures: [], counts: { delivered: 1, permanent: 1 } });
    expect(deadLetter.letters).toMatchObject([{ kind: "permanent" }]);
    expect(delivered.advanceCalls).toStrictEqual([["a", 0, 2]]);
  });

  it("delivers a message whose predecessor never came on its last receive, and says so without user ids", async () => {
    const { notify, sink, deadLetter, log, delivered } = setup();
    const third = received(ordered("s", 3), 4);

    const notLast = await notify([third]);
    expect(notLast).toMatchObject({ batchItemFailures: failures(third), counts: { held: 1 } });

    const last = await notify([{ ...third, receiveCount: 5 }]);

    expect(last).toMatchObject({ batchItemFailures: [], counts: { delivered: 1, gapDelivered: 1, held: 0 } });
    expect(sink.delivered.map(({ id }) => id)).toStrictEqual(["s-3"]);
    expect(deadLetter.letters).toStrictEqual([]);
    expect(delivered.advanceCalls).toStrictEqual([["s", 0, 3]]);
    expect(log.calls).toContainEqual({
      level: "warn",
      message: expect.stringMatching(/last receive/),
      attributes: { sink: "fake", messages: 1, maxReceives: 5 },
    });
    expect(JSON.stringify(log.calls)).not.toContain("user-of");

    // The missing ones, if they ever come, are older than what the sink has.
    const straggler = await notify([received(ordered("s", 1)), received(ordered("s", 2))]);
    expect(straggler.counts).toMatchObject({ delivered: 0, superseded: 2 });
  });

  it("delivers what waits before a message on its last receive, in order, in successive calls", async () => {
    const { notify, sink } = setup({}, { s: 1 });

    const result = await notify([received(ordered("s", 5), 5), received(ordered("s", 3), 1)]);

    expect(result.counts).toMatchObject({ delivered: 2, gapDelivered: 2 });
    expect(callIds(sink.calls)).toStrictEqual([["s-3"], ["s-5"]]);
  });

  it("judges the rest of a stream against the mark another invocation moved meanwhile", async () => {
    const table = fakeDelivered();
    const advance = table.delivered.advance;
    let first = true;
    const racing: Delivered = {
      ...table.delivered,
      advance: async (stream, from, to) => {
        if (first) {
          // Another invocation delivered seq 1 and 2 of this stream a moment before.
          first = false;
          table.marks.set(stream, 2);
        }
        return advance(stream, from, to);
      },
    };
    const { notify, sink, log } = setup({ delivered: racing });

    const result = await notify([1, 2, 3].map((seq) => received(ordered("s", seq))));

    expect(callIds(sink.calls)).toStrictEqual([["s-1"], ["s-3"]]);
    expect(result.counts).toMatchObject({ delivered: 2, superseded: 1 });
    expect(log.calls).toContainEqual(expect.objectContaining({ level: "warn", attributes: { streams: 1 } }));
  });

  it("logs a mark that cannot be written, and goes on with the stream in the batch", async () => {
    const { notify, sink, log } = setup({
      delivered: {
        ...fakeDelivered().delivered,
        advance: async () => {
          throw new Error("throttled");
        },
      },
    });

    const result = await notify([received(ordered("s", 1)), received(ordered("s", 2))]);

    expect(result).toMatchObject({ batchItemFailures: [], counts: { delivered: 2 } });
    expect(callIds(sink.calls)).toStrictEqual([["s-1"], ["s-2"]]);
    expect(log.calls).toContainEqual({
      level: "error",
      message: expect.stringMatching(/stream positions could not be recorded/),
      attributes: { notifications: 2, errors: ["Error: throttled"] },
    });
  });

  it("leaves messages without order as they were: one sink call, no stream marks read", async () => {
    let highWaterCalls = 0;
    const table = fakeDelivered();
    const { notify, sink } = setup({
      delivered: {
        ...table.delivered,
        highWater: async (streams) => {
          highWaterCalls++;
          return table.delivered.highWater(streams);
        },
      },
    });

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-2"), input("m-3", "fire-1")]);

    expect(result).toMatchObject({ batchItemFailures: [], counts: { delivered: 2, duplicate: 1 } });
    expect(callIds(sink.calls)).toStrictEqual([["fire-1", "fire-2"]]);
    expect(highWaterCalls).toBe(0);
    expect(table.advanceCalls).toStrictEqual([]);
  });
});

/** A small deterministic generator (mulberry32), so that fast-check's seed replays a run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Queued {
  readonly input: NotifyInput;
  receives: number;
}

/**
 * A standard SQS queue holding `copies[i]` copies of message seq i+1 of one stream: each batch takes
 * a random selection in a random order; acknowledged messages leave, item failures come back with
 * one more receive, and after `maxReceives` receives SQS would move a message to the DLQ (here: it
 * leaves). Runs until the queue is empty; answers the sink.
 */
async function runQueue(copies: readonly number[], seed: number, flaky: boolean) {
  const random = prng(seed);
  const maxReceives = 5;
  const sink = fakeSink(
    ({ id }): DeliveryResult =>
      flaky && random() < 0.3 ? { id, status: "retry", error: "throttled" } : { id, status: "delivered" },
  );
  const notify = makeNotifyMessages({
    sink: sink.sink,
    delivered: fakeDelivered().delivered,
    deadLetter: fakeDeadLetter().deadLetter,
    log: recordingLog(),
    maxReceives,
  });
  let queue: Queued[] = copies.flatMap((count, index) =>
    Array.from({ length: count }, () => ({ input: received(ordered("s", index + 1)), receives: 0 })),
  );
  let batches = 0;
  while (queue.length > 0) {
    batches++;
    const shuffled = [...queue].sort(() => random() - 0.5);
    const size = 1 + Math.floor(random() * Math.min(10, shuffled.length));
    const batch = shuffled.slice(0, size);
    for (const queued of batch) queued.receives++;
    const result = await notify(batch.map(({ input, receives }) => ({ ...input, receiveCount: receives })));
    const { messages, delivered, duplicate, retry, superseded, held, permanent, exhausted, invalid } =
      result.counts;
    // Every message lands in exactly one count.
    expect(delivered + duplicate + retry + superseded + held + permanent + exhausted + invalid).toBe(
      messages,
    );
    const back = new Set(result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier));
    queue = queue.filter(
      (queued) =>
        !batch.includes(queued) || (back.has(queued.input.messageId) && queued.receives < maxReceives),
    );
  }
  return { sink, batches };
}

/** The user's attributes after the sink applied `delivered` in order (`""` removes). */
function attributes(delivered: readonly NotificationMessage[]): Map<string, string> {
  const state = new Map<string, string>();
  for (const { notification } of delivered) {
    if (notification.value === "") state.delete(notification.name);
    else state.set(notification.name, notification.value ?? "");
  }
  return state;
}

describe("ordered streams under reorder and redelivery (property)", () => {
  const copies = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 8 });

  it("delivers an increasing subsequence ending with the last message, and leaves its value", async () => {
    await fc.assert(
      fc.asyncProperty(copies, fc.integer(), async (counts, seed) => {
        const { sink } = await runQueue(counts, seed, false);
        const seqs = sink.delivered.map(({ order }) => order?.seq ?? 0);
        const last = ordered("s", counts.length);

        for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? 0);
        expect(seqs.at(-1)).toBe(counts.length);
        expect(attributes(sink.delivered)).toStrictEqual(attributes([last]));
        // Never two messages of the stream in one sink call (a sink may send a call's at once).
        for (const call of sink.calls) expect(call.length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
  });

  it("never delivers an older message after a newer one, even when the sink fails at random", async () => {
    await fc.assert(
      fc.asyncProperty(copies, fc.integer(), async (counts, seed) => {
        const { sink } = await runQueue(counts, seed, true);
        const seqs = sink.delivered.map(({ order }) => order?.seq ?? 0);

        for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] ?? 0);
      }),
      { numRuns: 200 },
    );
  });
});
