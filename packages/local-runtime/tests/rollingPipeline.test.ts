import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Rule } from "@pia/core";
import { DAY_MS, Engine, formatNotification, parseRulesYaml } from "@pia/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalPipeline, runLocalPipeline } from "../src/index.js";

const EXAMPLES = fileURLToPath(new URL("../../../docs/examples/", import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-rolling-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function readSorted(file: string): Promise<string[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .sort();
}

/** A small deterministic generator (mulberry32): the same rounds on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("pia local with rolling windows", () => {
  it("gives pia simulate's lines on the docs' example", async () => {
    const { rules } = parseRulesYaml(await readFile(join(EXAMPLES, "rolling-rules.yaml"), "utf8"));
    const lines = (await readFile(join(EXAMPLES, "rolling-events.ndjson"), "utf8"))
      .split("\n")
      .filter((line) => line.trim() !== "");
    const now = Date.parse("2021-04-01T00:00:00Z");
    const engine = new Engine(rules);
    const expected = [...lines.flatMap((line) => engine.ingest(line)), ...engine.close(now)]
      .map(formatNotification)
      .sort();
    expect(expected).toHaveLength(9);
    const out = join(dir, "example.ndjson");
    await runLocalPipeline({ rules, lines, out, now, kinesisBatchSize: 5, streamBatchSize: 4 });
    expect(await readSorted(out)).toEqual(expected);
  });

  it("decides entries and exits across schedule runs at increasing instants, as simulate at each", async () => {
    const rules: Rule[] = [
      ...parseRulesYaml(await readFile(join(EXAMPLES, "rolling-rules.yaml"), "utf8")).rules,
      ...parseRulesYaml(`
- id: big-week
  event: purchase
  sum: { metric: price, op: ">=", value: 20 }
  window: { last: 7d }
  action: { type: attribute, name: big_week }
- id: quiet
  event: purchase
  count: { op: "=", value: 0 }
  window: { last: 2d }
  action: { type: attribute, name: quiet }
`).rules,
    ];
    const rand = random(42);
    const types = ["session", "purchase", "lesson", "quiz"];
    const start = Date.parse("2021-03-01T00:00:00Z");
    // Four rounds of 10 days; events fall anywhere in their round and come in any order (some late
    // for the state, some even before the last schedule run); the schedule runs between rounds.
    const rounds = [0, 1, 2, 3].map((round) => ({
      lines: Array.from({ length: 90 }, () => {
        const user = `u${Math.floor(rand() * 6)}`;
        const ts =
          start + round * 10 * DAY_MS + Math.floor(rand() * 10 * DAY_MS) - (rand() < 0.1 ? 3 * DAY_MS : 0);
        return JSON.stringify({
          event_type: types[Math.floor(rand() * types.length)],
          event_timestamp: ts,
          application: { app_id: "learn" },
          endpoint: { Id: `ep-${user}`, User: { UserId: user } },
          metrics: { price: Math.floor(rand() * 20) },
        });
      }),
      now: start + (round + 1) * 10 * DAY_MS + Math.floor(rand() * DAY_MS),
    }));
    const engine = new Engine(rules);
    const fired: string[] = [];
    const expected = rounds.map(({ lines, now }) => {
      for (const line of lines) fired.push(...engine.ingest(line).map(formatNotification));
      fired.push(...engine.close(now).map(formatNotification));
      return [...fired].sort();
    });
    // The rounds do exercise entries and exits at events and at expiries.
    expect(fired.length).toBeGreaterThan(30);
    expect(fired.some((line) => line.includes('"value":""'))).toBe(true);
    expect(fired.some((line) => line.includes('"ruleId":"quiet"'))).toBe(true);
    expect(fired.some((line) => line.includes('"ruleId":"big-week"'))).toBe(true);

    const out = join(dir, "rounds.ndjson");
    const afterEachRound: string[][] = [];
    const pipeline = await LocalPipeline.start({ rules, out, kinesisBatchSize: 25, streamBatchSize: 20 });
    try {
      for (const round of rounds) {
        await pipeline.feed(round.lines);
        await pipeline.drain();
        await pipeline.runSchedule(round.now);
        afterEachRound.push(await readSorted(out));
      }
    } finally {
      await pipeline.stop();
    }
    expect(afterEachRound).toEqual(expected);
  });
});
