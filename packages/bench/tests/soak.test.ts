import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "@pia/aws/usageError";
import { parseRecord } from "@pia/core";
import { FAULT_KINDS } from "@pia/local-runtime";
import { generateSampleEvents } from "@pia/sample";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SoakBalance } from "../src/soakBalance.js";
import { parseSoakFlags } from "../src/soakFlags.js";
import { malformLine, SOAK_MALFORMED_KINDS } from "../src/soakMalformed.js";
import { soakPipeline } from "../src/soakPipeline.js";
import { generateSoakRound } from "../src/soakRound.js";
import { SoakTail } from "../src/soakTail.js";

describe("the soak", () => {
  it("finds the pipeline exact after every round and clock step, rolling windows included, with every kind of fault injected", async () => {
    // 60 days a round: the closing windows of March, April and May are decided in rounds 2 and 3.
    const result = await soakPipeline({ seed: 5, eventsPerRound: 300, daysPerRound: 60, rounds: 3 });

    expect(result.rounds).toBe(3);
    expect(result.expected).toBeGreaterThan(30);
    // Rolling rules entered and left across the schedule's runs, and were compared like the rest.
    expect(result.rollingExpected.all).toBeGreaterThan(20);
    expect(result.rollingExpected.exits).toBeGreaterThan(5);
    expect(result.delivered).toBe(result.expected);
    expect(result.mismatches).toBe(0);
    expect(result.roundsMismatched).toBe(0);
    expect(result.clean).toBe(true);
    for (const kind of [...FAULT_KINDS, "malformedRecord"] as const)
      expect(result.faultsByKind[kind], kind).toBeGreaterThan(0);
  });
});

describe("soak rounds", () => {
  const settings = { seed: 3, eventsPerRound: 400, daysPerRound: 10 };

  it("are the same for the same settings, and follow one another in time", () => {
    const first = generateSoakRound(settings, 0);
    const second = generateSoakRound(settings, 1);
    expect(generateSoakRound(settings, 1)).toEqual(second);
    expect(first.now).toBe(Date.UTC(2021, 0, 11));
    expect(second.now).toBe(Date.UTC(2021, 0, 21));
    for (const line of second.lines) {
      const outcome = parseRecord(line);
      if (outcome.kind !== "event") continue;
      expect(outcome.event.timestamp).toBeGreaterThanOrEqual(first.now);
      expect(outcome.event.timestamp).toBeLessThan(second.now);
    }
  });

  it("mix malformed records in and give event ids of their own", () => {
    const round = generateSoakRound(settings, 2);
    expect(round.malformed).toBeGreaterThan(0);
    expect(round.lines.length).toBe(settings.eventsPerRound + round.malformed);
    const ids = round.lines.flatMap((line) => /"event_id":"([^"]*)"/.exec(line)?.[1] ?? []);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id.startsWith("r2-")).toBe(true);
  });
});

describe("malformed records", () => {
  const good = [...generateSampleEvents({ users: 5, events: 200, seed: 1 })].find(
    (line) => line.includes('"purchase"') && line.includes('"UserId"'),
  ) as string;

  it.each(SOAK_MALFORMED_KINDS)("%s is skipped, never counted", (kind) => {
    expect(parseRecord(good).kind).toBe("event");
    for (let i = 0; i < 20; i++) {
      const line = malformLine(good, kind, () => i / 20);
      expect(line.trim()).not.toBe("");
      expect(parseRecord(line).kind).toBe("skipped");
    }
  });
});

describe("the soak's balance", () => {
  it("counts lost and doubled notifications, and forgets lines once even", () => {
    const balance = new SoakBalance();
    balance.expect(["a", "b", "b", "c"]);
    balance.deliver(["b", "a", "d", "a"]);
    expect({ missing: balance.missing, extra: balance.extra }).toEqual({ missing: 2, extra: 2 });
    expect(new Map(balance.samples(10))).toEqual(
      new Map([
        ["a", -1],
        ["b", 1],
        ["c", 1],
        ["d", -1],
      ]),
    );
    balance.expect(["a", "d"]);
    balance.deliver(["b", "c"]);
    expect({ missing: balance.missing, extra: balance.extra }).toEqual({ missing: 0, extra: 0 });
    expect({ expected: balance.expected, delivered: balance.delivered }).toEqual({
      expected: 6,
      delivered: 6,
    });
  });
});

describe("the soak's tail of the notifications file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pia-soak-tail-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("gives each appended line once, whole, and nothing before the file exists", async () => {
    const file = join(dir, "out.ndjson");
    const tail = new SoakTail(file);
    expect(await tail.readNewLines()).toEqual([]);
    await appendFile(file, "one\ntw");
    expect(await tail.readNewLines()).toEqual(["one"]);
    expect(await tail.readNewLines()).toEqual([]);
    await appendFile(file, "o é\nthree\n");
    expect(await tail.readNewLines()).toEqual(["two é", "three"]);
  });
});

describe("the soak's flags", () => {
  it("reads minutes as fractions, rounds and the rest with defaults", () => {
    expect(parseSoakFlags(["--", "--minutes", "0.3"])).toEqual({
      seed: 1,
      eventsPerRound: 1000,
      daysPerRound: 20,
      durationMs: 18_000,
    });
    expect(
      parseSoakFlags([
        "--rounds",
        "4",
        "--seed",
        "9",
        "--events-per-round",
        "2_000",
        "--days-per-round",
        "7",
      ]),
    ).toEqual({ seed: 9, eventsPerRound: 2000, daysPerRound: 7, rounds: 4 });
    expect(parseSoakFlags(["--help"])).toBe("help");
  });

  it.each([
    [[], "--minutes M"],
    [["--minutes", "0"], "--minutes must be a number > 0"],
    [["--minutes", "soon"], "--minutes must be a number > 0"],
    [["--minutes", ""], "--minutes must be a number > 0"],
    [["--rounds", "1.5"], "--rounds must be a whole number >= 1"],
    [["--minutes", "1", "--events-per-round", "0"], "--events-per-round must be a whole number >= 1"],
    [["--minutes", "1", "--seed=-1"], "--seed must be a whole number >= 0"],
    [["--minutes", "1", "--speed", "2"], "--speed"],
    [["--minutes", "1", "extra"], "extra"],
  ])("refuses %j with a clear message", (argv, message) => {
    expect(() => parseSoakFlags(argv)).toThrow(UsageError);
    expect(() => parseSoakFlags(argv)).toThrow(message);
  });
});
