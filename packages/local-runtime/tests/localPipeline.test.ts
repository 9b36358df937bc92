import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Rule } from "@pia/core";
import { DAY_MS, Engine, formatNotification, parseRulesCsv, parseRulesYaml } from "@pia/core";
import { generateSampleEvents, generateSampleRulesCsv } from "@pia/sample";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Faults } from "../src/index.js";
import { LocalPipeline, runLocalPipeline } from "../src/index.js";

const NOW = Date.parse("2022-01-01T00:00:00Z");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-local-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function simulate(rules: readonly Rule[], lines: readonly string[], now: number): string[] {
  const engine = new Engine(rules);
  const fired = lines.filter((line) => line.trim() !== "").flatMap((line) => engine.ingest(line));
  return [...fired, ...engine.close(now)].map(formatNotification).sort();
}

async function readSorted(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .sort();
}

async function local(
  name: string,
  rules: readonly Rule[],
  lines: readonly string[],
  now: number,
  faults?: Faults,
) {
  const out = join(dir, `${name}.ndjson`);
  const summary = await runLocalPipeline({
    rules,
    lines,
    out,
    now,
    kinesisBatchSize: 200,
    streamBatchSize: 150,
    ...(faults === undefined ? {} : { faults }),
  });
  return { summary, lines: await readSorted(out) };
}

const sampleRules = parseRulesCsv(generateSampleRulesCsv()).rules;
const sampleLines = [...generateSampleEvents({ users: 120, events: 2500, seed: 7 })];

describe("pia local", () => {
  it("gives exactly the notifications of pia simulate on generated data, poison records included", async () => {
    const expected = simulate(sampleRules, sampleLines, NOW);
    expect(expected.length).toBeGreaterThan(50);
    const { summary, lines } = await local("sample", sampleRules, sampleLines, NOW);
    expect(lines).toEqual(expected);
    expect(summary.onFailure).toEqual({ kinesis: 0, stream: 0 });
    expect(summary.deadLetters).toBe(0);
    expect(Object.values(summary.ingest.skipped).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it("stays exact under duplicated batches, failures after partial success, crashes before the send and SQS redelivery", async () => {
    const expected = simulate(sampleRules, sampleLines, NOW);
    const { summary, lines } = await local("faults", sampleRules, sampleLines, NOW, {
      kinesis: { duplicateBatches: true, failAfterWriteEvery: 7 },
      stream: { duplicateBatches: true, failAfterWriteEvery: 7, failSendEvery: 3 },
      queue: { redeliverMessages: true, failAfterWriteEvery: 7 },
      schedule: { failAfterWriteEvery: 7, failSendEvery: 3 },
    });
    expect(lines).toEqual(expected);
    expect(new Set(lines).size).toBe(lines.length);
    expect(summary.faultsInjected).toBeGreaterThan(10);
    expect(summary.notify.duplicate).toBeGreaterThan(0);
    expect(summary.onFailure).toEqual({ kinesis: 0, stream: 0 });
  });

  it("keeps running, fed round after round, exact after each under throttling and crashes mid-batch", async () => {
    const start = Date.parse("2021-01-01T00:00:00Z");
    // 60 days a round: the March window closes after round 1, April's and May's after round 2.
    const rounds = [0, 1, 2].map((round) => ({
      lines: [
        ...generateSampleEvents({
          users: 40 + 20 * round,
          events: 400,
          seed: 20 + round,
          from: new Date(start + round * 60 * DAY_MS).toISOString().slice(0, 10),
          days: 60,
        }),
      ],
      now: start + (round + 1) * 60 * DAY_MS,
    }));
    const engine = new Engine(sampleRules);
    const fired: string[] = [];
    const expected = rounds.map(({ lines, now }) => {
      for (const line of lines) fired.push(...engine.ingest(line).map(formatNotification));
      fired.push(...engine.close(now).map(formatNotification));
      return [...fired].sort();
    });
    expect(expected[1]?.some((line) => line.includes('"march-light-cart"'))).toBe(true);

    const out = join(dir, "rounds.ndjson");
    const afterEachRound: string[][] = [];
    const everywhere = { throttleDynamoDbEvery: 5, crashMidBatchEvery: 3 };
    const pipeline = await LocalPipeline.start({
      rules: sampleRules,
      out,
      kinesisBatchSize: 100,
      streamBatchSize: 60,
      faults: {
        kinesis: everywhere,
        stream: everywhere,
        queue: { ...everywhere, throttleSinkEvery: 2 },
        schedule: { throttleDynamoDbEvery: 5 },
      },
    });
    let summary: Awaited<ReturnType<LocalPipeline["summary"]>>;
    try {
      for (const round of rounds) {
        await pipeline.feed(round.lines);
        await pipeline.drain();
        await pipeline.runSchedule(round.now);
        afterEachRound.push(await readSorted(out));
      }
      summary = await pipeline.summary();
    } finally {
      await pipeline.stop();
    }
    expect(afterEachRound).toEqual(expected);
    for (const kind of ["throttleDynamoDb", "throttleSink", "crashMidBatch"] as const)
      expect(summary.faultsByKind[kind]).toBeGreaterThan(0);
    expect(summary.onFailure).toEqual({ kinesis: 0, stream: 0 });
    expect(summary.deadLetters).toBe(0);
  });

  it("follows docs/rules.md on its edge cases like pia simulate", async () => {
    const { rules } = parseRulesYaml(`
- id: window-count
  event: purchase
  count: { op: ">=", value: 2 }
  window: { from: 2021-01-10, to: 2021-01-20 }
  action: { type: attribute, name: w, value: Ready }
- id: closing-few
  event: purchase
  count: { op: "<", value: 3 }
  window: { from: 2021-01-10, to: 2021-01-20 }
  action: { type: attribute, name: few, value: Ready }
- id: closing-open
  event: purchase
  count: { op: "=", value: 1 }
  window: { from: 2021-12-01, to: 2022-02-01 }
  action: { type: attribute, name: open, value: Ready }
- id: exact-sum
  event: purchase
  sum: { op: "=", value: 0.3 }
  action: { type: attribute, name: s, value: Ready }
- id: first-metric
  event: bought
  sum: { op: ">", value: 6 }
  action: { type: attribute, name: f, value: Ready }
- id: every-two
  event: purchase
  where: { product: chair }
  count: { op: "=", value: 2 }
  reset: true
  action: { type: event, name: trk_two_chairs }
`);
    const record = (user: string, ts: string, extra: Record<string, unknown> = {}, type = "purchase") =>
      JSON.stringify({
        event_type: type,
        event_timestamp: Date.parse(ts),
        application: { app_id: "app" },
        endpoint: { Id: `ep-${user}`, User: { UserId: user } },
        ...extra,
      });
    const lines = [
      record("a", "2021-01-10T00:00:00.000Z", { metrics: { price: 0.1 }, attributes: { product: "chair" } }),
      record("a", "2021-01-20T23:59:59.999Z", { metrics: { price: 0.2 }, attributes: { product: "chair" } }),
      record("b", "2021-01-21T00:00:00.000Z", { metrics: { price: 0.2 } }),
      record("b", "2021-01-09T23:59:59.999Z", { metrics: { price: 0.1 } }),
      record("c", "2021-01-15T00:00:00.000Z", { event_id: "e-1", attributes: { product: "chair" } }),
      record("c", "2021-01-16T00:00:00.000Z", { event_id: "e-1", attributes: { product: "chair" } }),
      record("c", "2021-12-02T00:00:00.000Z", { attributes: { product: "chair" } }),
      '{"event_type":"bought","event_timestamp":1,"application":{"app_id":"app"},"endpoint":{"User":{"UserId":"d"}},"metrics":{"b":5,"7":100}}',
      '{"event_type":"bought","event_timestamp":2,"application":{"app_id":"app"},"endpoint":{"User":{"UserId":"d"}},"metrics":{"b":5,"7":100}}',
      record("e", "2021-01-12T00:00:00.000Z", {}, "_session.start"),
      "not json",
    ];
    const expected = simulate(rules, lines, NOW);
    expect(expected.some((line) => line.includes('"closing-few"'))).toBe(true);
    expect(expected.some((line) => line.includes('"closing-open"'))).toBe(false);
    const { lines: actual } = await local("edge", rules, lines, NOW);
    expect(actual).toEqual(expected);
  });
});
