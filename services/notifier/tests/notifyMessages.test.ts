import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NotificationMessage, toMessageBody } from "@pia/aws";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeNotifyMessages, type NotifyDeps } from "../src/notifyMessages.js";
import type { Sink } from "../src/ports.js";
import { buildFileSink } from "../src/sinks/fileSink.js";
import { fakeDeadLetter, fakeDelivered, fakeSink, input, message, recordingLog } from "./fixtures.js";

function setup(overrides: Partial<NotifyDeps> = {}, deliveredIds: readonly string[] = []) {
  const sink = fakeSink();
  const delivered = fakeDelivered(deliveredIds);
  const deadLetter = fakeDeadLetter();
  const log = recordingLog();
  const notify = makeNotifyMessages({
    sink: sink.sink,
    delivered: delivered.delivered,
    deadLetter: deadLetter.deadLetter,
    log,
    ...overrides,
  });
  return { notify, sink, delivered, deadLetter, log };
}

const NO_FAILURES = { batchItemFailures: [] };

describe("makeNotifyMessages", () => {
  it("delivers every message through the sink and records the ids as delivered", async () => {
    const { notify, sink, delivered } = setup();

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-2")]);

    expect(result).toMatchObject(NO_FAILURES);
    expect(result.counts).toStrictEqual({
      messages: 2,
      delivered: 2,
      duplicate: 0,
      retry: 0,
      superseded: 0,
      held: 0,
      permanent: 0,
      exhausted: 0,
      invalid: 0,
      deadLetterFailed: 0,
      unmarked: 0,
      gapDelivered: 0,
    });
    expect(sink.delivered).toStrictEqual([message("fire-1"), message("fire-2")]);
    expect(delivered.hasCalls).toStrictEqual([["fire-1", "fire-2"]]);
    expect(delivered.markCalls).toStrictEqual([["fire-1", "fire-2"]]);
  });

  it("skips ids already delivered", async () => {
    const { notify, sink, delivered } = setup({}, ["fire-1"]);

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-2")]);

    expect(result).toMatchObject({ ...NO_FAILURES, counts: { delivered: 1, duplicate: 1 } });
    expect(sink.calls).toStrictEqual([[message("fire-2")]]);
    expect(delivered.markCalls).toStrictEqual([["fire-2"]]);
  });

  it("does not call the sink when every id is delivered", async () => {
    const { notify, sink, delivered } = setup({}, ["fire-1"]);

    expect(await notify([input("m-1", "fire-1")])).toMatchObject({
      ...NO_FAILURES,
      counts: { duplicate: 1 },
    });
    expect(sink.calls).toStrictEqual([]);
    expect(delivered.markCalls).toStrictEqual([]);
  });

  it("delivers two messages of one batch with the same id once, and acknowledges both", async () => {
    const { notify, sink } = setup();

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-1")]);

    expect(result).toMatchObject({ ...NO_FAILURES, counts: { delivered: 1, duplicate: 1 } });
    expect(sink.calls).toStrictEqual([[message("fire-1")]]);
  });

  describe("redelivery", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "pia-notify-"));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function lineCount(path: string): Promise<number> {
      return (await readFile(path, "utf8")).split("\n").filter((line) => line !== "").length;
    }

    it("writes one line when a message comes twice, across processes (the delivered table)", async () => {
      const path = join(dir, "out.ndjson");
      const table = fakeDelivered();
      const process = () =>
        makeNotifyMessages({
          // A new file sink each time: a new Lambda container, with an empty memory.
          sink: buildFileSink(path),
          delivered: table.delivered,
          deadLetter: fakeDeadLetter().deadLetter,
          log: recordingLog(),
        });

      await process()([input("m-1", "fire-1"), input("m-2", "fire-2")]);
      const second = await process()([input("m-1", "fire-1")]);

      expect(second).toMatchObject({ ...NO_FAILURES, counts: { delivered: 0, duplicate: 1 } });
      expect(await lineCount(path)).toBe(2);
    });

    it("writes one line when a message comes twice and its mark was lost (the sink's own memory)", async () => {
      const path = join(dir, "out.ndjson");
      const notify = makeNotifyMessages({
        sink: buildFileSink(path),
        // Nothing is ever recorded: every has() answers "not delivered".
        delivered: { ...fakeDelivered().delivered, has: async () => new Set(), mark: async () => undefined },
        deadLetter: fakeDeadLetter().deadLetter,
        log: recordingLog(),
      });

      await notify([input("m-1", "fire-1")]);
      await notify([input("m-1", "fire-1"), input("m-3", "fire-1")]);

      expect(await lineCount(path)).toBe(1);
    });
  });

  it("reports retry results as item failures, in input order, and does not mark them", async () => {
    const sink = fakeSink(({ id }) =>
      id === "fire-2" || id === "fire-4"
        ? { id, status: "retry", error: "throttled (429)" }
        : { id, status: "delivered" },
    );
    const { notify, delivered, log } = setup({ sink: sink.sink });

    const result = await notify([
      input("m-1", "fire-1"),
      input("m-4", "fire-4"),
      input("m-2", "fire-2"),
      input("m-3", "fire-3"),
    ]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-4" }, { itemIdentifier: "m-2" }]);
    expect(result.counts).toMatchObject({ delivered: 2, retry: 2 });
    expect(delivered.markCalls).toStrictEqual([["fire-1", "fire-3"]]);
    expect(log.calls).toContainEqual({
      level: "warn",
      message: expect.stringMatching(/retry/),
      attributes: { sink: "fake", messages: 2, reasons: ["throttled (429)"] },
    });
  });

  it("sends a message still failing on its last receive to the DLQ itself, with the sink's last error", async () => {
    const sink = fakeSink(({ id }) => ({ id, status: "retry", error: "throttled (429)" }));
    const { notify, deadLetter } = setup({ sink: sink.sink, maxReceives: 3 });

    const result = await notify([
      { ...input("m-1", "fire-1"), receiveCount: 2 },
      { ...input("m-2", "fire-2"), receiveCount: 3 },
    ]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-1" }]);
    expect(result.counts).toMatchObject({ retry: 1, exhausted: 1 });
    expect(deadLetter.letters).toMatchObject([
      {
        messageId: "m-2",
        kind: "exhausted",
        reason: "still failing on receive 3: throttled (429)",
        sink: "fake",
      },
    ]);
  });

  it("hands back what the sink deferred for lack of time, even on the last receive, without dead-lettering it", async () => {
    const sink = fakeSink(({ id }) =>
      id === "fire-1"
        ? { id, status: "delivered" }
        : { id, status: "retry", error: "the webhook was not called: out of time", deferred: true },
    );
    const { notify, deadLetter, delivered, log } = setup({ sink: sink.sink, maxReceives: 3 });

    const result = await notify(
      [
        { ...input("m-1", "fire-1"), receiveCount: 3 },
        { ...input("m-2", "fire-2"), receiveCount: 3 },
        { ...input("m-3", "fire-3"), receiveCount: 1 },
      ],
      { deadline: 1_000 },
    );

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-2" }, { itemIdentifier: "m-3" }]);
    expect(result.counts).toMatchObject({ delivered: 1, retry: 2, exhausted: 0, permanent: 0 });
    expect(deadLetter.letters).toStrictEqual([]);
    expect(delivered.markCalls).toStrictEqual([["fire-1"]]);
    expect(log.calls).toContainEqual({
      level: "warn",
      message: expect.stringMatching(/time ran out/),
      attributes: { sink: "fake", messages: 2 },
    });
  });

  it("passes the deadline to the sink", async () => {
    const seen: unknown[] = [];
    const sink: Sink = {
      name: "fake",
      deliver: async (batch, options) => {
        seen.push(options);
        return batch.map(({ id }) => ({ id, status: "delivered" }));
      },
    };
    const { notify } = setup({ sink });

    await notify([input("m-1", "fire-1")], { deadline: 12_345 });

    expect(seen).toStrictEqual([{ deadline: 12_345 }]);
  });

  it("retries the whole batch when the sink throws, logging only the error's name", async () => {
    const sink: Sink = {
      name: "boom",
      deliver: async () => {
        throw new TypeError("cannot reach user-secret-9");
      },
    };
    const { notify, delivered, log } = setup({ sink });

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-2")]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-1" }, { itemIdentifier: "m-2" }]);
    expect(delivered.markCalls).toStrictEqual([]);
    expect(JSON.stringify(log.calls)).toContain("the boom sink threw TypeError");
    expect(JSON.stringify(log.calls)).not.toContain("user-secret-9");
  });

  it("retries messages the sink gave no result for", async () => {
    const sink: Sink = {
      name: "partial",
      deliver: async ([first]) => [{ id: first?.id ?? "", status: "delivered" }],
    };
    const { notify } = setup({ sink });

    const result = await notify([input("m-1", "fire-1"), input("m-2", "fire-2")]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-2" }]);
  });

  it("sends permanent failures to the dead-letter queue with the reason, and acknowledges them", async () => {
    const sink = fakeSink(({ id }) =>
      id === "fire-2"
        ? { id, status: "permanent", error: "the app does not exist" }
        : { id, status: "delivered" },
    );
    const { notify, delivered, deadLetter } = setup({ sink: sink.sink });
    const bad = input("m-2", "fire-2");

    const result = await notify([input("m-1", "fire-1"), bad]);

    expect(result).toMatchObject({ ...NO_FAILURES, counts: { delivered: 1, permanent: 1 } });
    expect(deadLetter.letters).toStrictEqual([
      { messageId: "m-2", body: bad.body, kind: "permanent", reason: "the app does not exist", sink: "fake" },
    ]);
    expect(delivered.markCalls).toStrictEqual([["fire-1"]]);
  });

  it("tallies deliveries by rule and failures by the sink each message was meant for", async () => {
    const sink = fakeSink(({ id }) =>
      id === "fire-1" || id === "fire-2"
        ? { id, status: "delivered" }
        : { id, status: "retry", error: "throttled" },
    );
    const { notify, deadLetter } = setup({ sink: sink.sink });
    const otherRule = message("fire-2");
    const routed: NotificationMessage = { ...message("fire-3"), sink: "webhook" };

    const result = await notify([
      input("m-1", "fire-1"),
      {
        messageId: "m-2",
        body: toMessageBody({
          ...otherRule,
          notification: { ...otherRule.notification, ruleId: "pricing-fan" },
        }),
      },
      { messageId: "m-3", body: toMessageBody(routed), receiveCount: 5 },
      { ...input("m-4", "fire-4"), receiveCount: 1 },
    ]);

    expect(result.deliveredByRule).toStrictEqual(
      new Map([
        ["big-spender", 1],
        ["pricing-fan", 1],
      ]),
    );
    expect(result.failuresBySink).toStrictEqual(
      new Map([
        ["webhook", 1],
        ["fake", 1],
      ]),
    );
    // The dead letter names the sink the rule asked for, not the stage's default.
    expect(deadLetter.letters).toMatchObject([{ messageId: "m-3", kind: "exhausted", sink: "webhook" }]);
  });

  it.each([
    ["not JSON", "{ oops", /body is not valid JSON/],
    [
      "no user",
      JSON.stringify({ id: "x", notification: { ...message("x").notification, userId: "" } }),
      /userId/,
    ],
    ["no id", JSON.stringify({ notification: message("x").notification }), /^notification message: id /],
  ])(
    "sends an invalid body (%s) to the dead-letter queue at once, and goes on",
    async (_case, body, reason) => {
      const { notify, sink, deadLetter, log } = setup();

      const result = await notify([{ messageId: "m-bad", body }, input("m-1", "fire-1")]);

      expect(result).toMatchObject({ ...NO_FAILURES, counts: { invalid: 1, delivered: 1 } });
      expect(sink.calls).toStrictEqual([[message("fire-1")]]);
      expect(deadLetter.letters).toMatchObject([{ messageId: "m-bad", body, kind: "invalid_message" }]);
      expect(deadLetter.letters[0]?.reason).toMatch(reason);
      expect(log.calls).toContainEqual(
        expect.objectContaining({
          level: "warn",
          attributes: { invalid: [expect.objectContaining({ messageId: "m-bad" })] },
        }),
      );
    },
  );

  it("reports dead letters SQS refused as item failures", async () => {
    const deadLetter = fakeDeadLetter((letter) => letter.messageId === "m-a");
    const { notify } = setup({ deadLetter: deadLetter.deadLetter });

    const result = await notify([
      { messageId: "m-a", body: "x" },
      { messageId: "m-b", body: "y" },
      input("m-1", "fire-1"),
    ]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-a" }]);
    expect(result.counts).toMatchObject({ invalid: 2, deadLetterFailed: 1, delivered: 1 });
  });

  it("reports every dead letter as an item failure when the dead-letter queue fails", async () => {
    const { notify, log } = setup({
      deadLetter: async () => {
        throw Object.assign(new Error("not authorized to send"), { name: "AccessDenied" });
      },
    });

    const result = await notify([{ messageId: "m-a", body: "x" }, input("m-1", "fire-1")]);

    expect(result.batchItemFailures).toStrictEqual([{ itemIdentifier: "m-a" }]);
    expect(log.calls).toContainEqual(
      expect.objectContaining({
        level: "error",
        attributes: { messages: 1, error: "AccessDenied: not authorized to send" },
      }),
    );
  });

  it("fails the batch before delivering anything when the delivered table cannot be read", async () => {
    const { notify, sink, deadLetter } = setup({
      delivered: {
        ...fakeDelivered().delivered,
        has: async () => {
          throw new Error("table missing");
        },
      },
    });

    await expect(notify([input("m-1", "fire-1"), { messageId: "m-bad", body: "x" }])).rejects.toThrow(
      "table missing",
    );
    expect(sink.calls).toStrictEqual([]);
    expect(deadLetter.letters).toStrictEqual([]);
  });

  it("acknowledges delivered messages whose mark failed, and logs it", async () => {
    const { notify, log } = setup({
      delivered: {
        ...fakeDelivered().delivered,
        mark: async () => {
          throw new Error("throttled");
        },
      },
    });

    const result = await notify([input("m-1", "fire-1")]);

    expect(result).toMatchObject({ ...NO_FAILURES, counts: { delivered: 1, unmarked: 1 } });
    expect(log.calls).toContainEqual(
      expect.objectContaining({
        level: "error",
        attributes: { notifications: 1, error: "Error: throttled" },
      }),
    );
  });

  it("logs no user ids", async () => {
    const sink = fakeSink(({ id }) => ({ id, status: "retry", error: "slow down" }));
    const { notify, log } = setup({ sink: sink.sink });

    await notify([
      input("m-1", "fire-1", "secret-user-1"),
      {
        messageId: "m-2",
        body: toMessageBody(message("fire-2", "secret-user-2")).replace('"type":"attribute"', '"type":"x"'),
      },
    ]);

    expect(log.calls.length).toBeGreaterThan(0);
    expect(JSON.stringify(log.calls)).not.toContain("secret-user");
  });
});
