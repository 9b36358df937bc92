import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pia } from "./capture.js";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

const RULES_CSV = [
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key",
  "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview",
  "date,purchase,product,chair,na,999,smaller,100,no,2021-01-01,2021-01-31,cheap-chairs",
].join("\r\n");

const event = (type: string, ts: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_type: type,
    event_timestamp: Date.parse(ts),
    endpoint: { Id: "ep", User: { UserId: "u1" } },
    application: { app_id: "app" },
    ...extra,
  });

const EVENTS = [
  event("pageview", "2021-01-01T00:00:00Z"),
  "",
  event("pageview", "2021-01-02T00:00:00Z"),
  event("_session.start", "2021-01-02T00:00:00Z"),
  event("purchase", "2021-01-31T23:59:59.999Z", {
    attributes: { product: "chair" },
    metrics: { price: 99.99 },
  }),
  "{broken",
].join("\n");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-cli-"));
  await writeFile(join(dir, "rules.csv"), RULES_CSV);
  await writeFile(join(dir, "events.ndjson"), EVENTS);
  await writeFile(join(dir, "events.ndjson.gz"), gzipSync(EVENTS));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Rolling windows: three users' lessons (docs/rules.md 4.4's examples, as run in the docs). */
const ROLLING_YAML = `
- id: active
  event: lesson
  count: { op: ">", value: 2 }
  window: { last: 7d }
  action: { type: attribute, name: active }
- id: lapsed
  event: lesson
  count: { op: "=", value: 0 }
  window: { last: 14d }
  action: { type: attribute, name: lapsed }
- id: streak
  event: lesson
  count: { op: ">=", value: 2 }
  window: { last: 36h }
  action: { type: event, name: trk_streak }
  reset: true
`;
const lesson = (user: string, ts: string) =>
  JSON.stringify({
    event_type: "lesson",
    event_timestamp: Date.parse(ts),
    endpoint: { Id: `ep-${user}`, User: { UserId: user } },
    application: { app_id: "app" },
  });

describe("pia simulate with rolling windows", () => {
  it('enters at the events, exits and lapses at the expiries up to --now, with seq and value "" on exit', async () => {
    const rules = join(dir, "rolling.yaml");
    const events = join(dir, "lessons.ndjson");
    const out = join(dir, "rolling.ndjson");
    await writeFile(rules, ROLLING_YAML);
    await writeFile(
      events,
      [
        lesson("u1", "2021-03-01T09:00:00Z"),
        lesson("u1", "2021-03-02T09:00:00Z"),
        lesson("u1", "2021-03-03T09:00:00Z"),
        // Late by less than 7 days: counted for active, at the latest instant seen; late by more
        // than 36 hours: counted nowhere for streak.
        lesson("u1", "2021-02-28T09:00:00Z"),
      ].join("\n"),
    );
    const result = await pia(
      "simulate",
      "--rules",
      rules,
      "--events",
      events,
      "--out",
      out,
      "--now",
      "2021-03-20",
    );
    expect(result.code).toBe(0);
    const line = (ruleId: string, name: string, at: string, seq: number, value?: string) =>
      JSON.stringify({
        appId: "app",
        userId: "u1",
        ruleId,
        type: value === undefined ? "event" : "attribute",
        name,
        value,
        at,
        seq,
      });
    expect((await readFile(out, "utf8")).trim().split("\n")).toEqual([
      line("streak", "trk_streak", "2021-03-02T09:00:00.000Z", 1),
      line("active", "active", "2021-03-03T09:00:00.000Z", 1, "Ready"),
      // The late lesson leaves first (Feb 28 + 7d), leaving 3; then Mar 1's, leaving 2.
      line("active", "active", "2021-03-08T09:00:00.000Z", 2, ""),
      line("lapsed", "lapsed", "2021-03-17T09:00:00.000Z", 1, "Ready"),
    ]);
  });
});

describe("pia simulate", () => {
  const expected = [
    '{"appId":"app","userId":"u1","ruleId":"aggregatorpageview","type":"attribute","name":"pageview","value":"Ready","at":"2021-01-02T00:00:00.000Z"}',
    '{"appId":"app","userId":"u1","ruleId":"cheap-chairs","type":"attribute","name":"trk_date_purchase_chair","value":"Ready","at":"2021-01-31T23:59:59.999Z"}',
  ];

  it.each(["events.ndjson", "events.ndjson.gz"])(
    "writes the notifications of %s to stdout and a summary to stderr",
    async (file) => {
      const result = await pia("simulate", "--rules", join(dir, "rules.csv"), "--events", join(dir, file));
      expect(result.code).toBe(0);
      expect(result.stdout.trim().split("\n")).toEqual(expected);
      expect(result.stderr).toMatch(/records read\s+5\b/);
      expect(result.stderr).toMatch(/skipped\s+1 \(bad_json 1\)/);
      expect(result.stderr).toMatch(/blank lines\s+1/);
      expect(result.stderr).toMatch(/cheap-chairs\s+1/);
    },
  );

  it("counts a line over 1 MiB as one record skipped too_large, and reads on", async () => {
    const oversized = event("pageview", "2021-01-03T00:00:00Z", { pad: "x".repeat(1_048_576) });
    const file = join(dir, "oversized.ndjson");
    await writeFile(file, [oversized, EVENTS].join("\n"));
    const result = await pia("simulate", "--rules", join(dir, "rules.csv"), "--events", file);
    expect(result.code).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual(expected);
    expect(result.stderr).toMatch(/records read\s+6\b/);
    expect(result.stderr).toMatch(/skipped\s+2 \(too_large 1, bad_json 1\)/);
  });

  it("writes to --out and decides closing rules at --now only", async () => {
    const out = join(dir, "out.ndjson");
    const before = await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson"),
      "--out",
      out,
      "--now",
      "2021-01-31T23:59:59.999",
    );
    expect(before.code).toBe(0);
    expect((await readFile(out, "utf8")).trim().split("\n")).toEqual(expected.slice(0, 1));
    await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson"),
      "--out",
      out,
      "--now",
      "2021-02-01",
    );
    expect((await readFile(out, "utf8")).trim().split("\n")).toEqual(expected);
  });

  it("exits 2 and lists every error of an invalid rules file, writing nothing", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(
      bad,
      `${RULES_CSV}\ndate,purchase,na,999,na,1,na,1,no,2021-02-29,2021-03-01,x\naggregator,view,na,999,smaller,3,na,999,no,,,y\n`,
    );
    const result = await pia("simulate", "--rules", bad, "--events", join(dir, "events.ndjson"));
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("line 4");
    expect(result.stderr).toContain("line 5");
    expect(result.stderr).toContain("StartDate");
    expect(result.stderr).toContain("Operator-C");
  });

  it.each([
    { argv: ["--now", "2021-02-30"], code: 2, message: /--now/ },
    { argv: ["--now", "yesterday"], code: 2, message: /--now/ },
  ])("rejects $argv", async ({ argv, code, message }) => {
    const result = await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson"),
      ...argv,
    );
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
  });

  it("exits 1 naming a file it cannot read", async () => {
    const result = await pia(
      "simulate",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "missing.ndjson"),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("missing.ndjson");
  });

  it("exits 2 on a missing required option", async () => {
    const result = await pia("simulate", "--rules", join(dir, "rules.csv"));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--events");
  });
});

describe("pia local", () => {
  it("quarantines a line over 1 MiB as too_large, as simulate skips it", async () => {
    const oversized = event("pageview", "2021-01-03T00:00:00Z", { pad: "é".repeat(600_000) });
    const file = join(dir, "oversized-local.ndjson");
    await writeFile(file, [oversized, EVENTS].join("\n"));
    const out = join(dir, "local-oversized.ndjson");
    const result = await pia(
      "local",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      file,
      "--out",
      out,
      "--now",
      "2021-02-01",
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/records fed\s+6\b/);
    expect(result.stderr).toMatch(/skipped\s+2 \(too_large 1, bad_json 1\)/);
  });

  it("runs rolling windows as pia simulate does: the docs' example gives the same lines", async () => {
    const rules = join(REPO_ROOT, "docs/examples/rolling-rules.yaml");
    const events = join(REPO_ROOT, "docs/examples/rolling-events.ndjson");
    const lines = async (command: string) => {
      const out = join(dir, `rolling-${command}.ndjson`);
      const result = await pia(
        command,
        "--rules",
        rules,
        "--events",
        events,
        "--out",
        out,
        "--now",
        "2021-04-01",
      );
      expect(result.code, result.stderr).toBe(0);
      return (await readFile(out, "utf8"))
        .split("\n")
        .filter((l) => l !== "")
        .sort();
    };
    const simulated = await lines("simulate");
    expect(simulated).toHaveLength(9);
    expect(await lines("local")).toEqual(simulated);
  });

  it("runs the pipeline on the local stack with simulate's output, and reports its cost", async () => {
    const out = join(dir, "local.ndjson");
    const result = await pia(
      "local",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson.gz"),
      "--out",
      out,
      "--now",
      "2021-02-01",
    );
    expect(result.stderr).toMatch(/records fed\s+5\b/);
    expect(result.code).toBe(0);
    expect((await readFile(out, "utf8")).trim().split("\n").sort()).toEqual([
      '{"appId":"app","userId":"u1","ruleId":"aggregatorpageview","type":"attribute","name":"pageview","value":"Ready","at":"2021-01-02T00:00:00.000Z"}',
      '{"appId":"app","userId":"u1","ruleId":"cheap-chairs","type":"attribute","name":"trk_date_purchase_chair","value":"Ready","at":"2021-01-31T23:59:59.999Z"}',
    ]);
    expect(result.stderr).toMatch(/skipped\s+1 \(bad_json 1\)/);
    expect(result.stderr).toMatch(/DynamoDB\s+[\d,.]+ requests, [\d,.]+ write units/);
  });

  it("exits 2 without --out", async () => {
    const result = await pia(
      "local",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson"),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--out");
  });
});

describe("pia rules validate", () => {
  it("exits 0 for a valid file", async () => {
    const result = await pia("rules", "validate", join(dir, "rules.csv"));
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain("2 valid rules");
  });

  it("exits 2 listing every error with field and reason", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(
      bad,
      "- id: a\n  event: x\n  count: { op: '<', value: 1 }\n  action: { type: attribute, name: a }\n- id: a\n  event: y\n  count: { op: '>', value: -1 }\n  action: { type: event, name: nope }\n",
    );
    const result = await pia("rules", "validate", bad);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line 3/);
    expect(result.stderr).toMatch(/rules\[1\]\.count\.value/);
    expect(result.stderr).toMatch(/trk_/);
    expect(result.stderr).toMatch(/duplicate|already/i);
  });
});

describe("pia sample", () => {
  it("writes data that simulate reads", async () => {
    const out = join(dir, "sample");
    expect((await pia("sample", "--out", out, "--users", "50", "--events", "2000")).code).toBe(0);
    const result = await pia(
      "simulate",
      "--rules",
      join(out, "rules.csv"),
      "--events",
      join(out, "events.ndjson"),
    );
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/records read\s+2,000/);
  });

  it("prints help with exit 0", async () => {
    const result = await pia("--help");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("simulate");
    expect(result.stdout).toContain("Exit codes");
  });
});

describe("pia local --sink", () => {
  it("exits 2 naming every missing setting of the chosen sink, before starting anything", async () => {
    const result = await pia(
      "local",
      "--rules",
      join(dir, "rules.csv"),
      "--events",
      join(dir, "events.ndjson"),
      "--out",
      join(dir, "never.ndjson"),
      "--sink",
      "customer-profiles",
      "--profiles-domain",
      "marketing",
    );
    expect(result.code).toBe(2);
    // The object type has a default (pia-notification); the key the profiles are found by has none.
    expect(result.stderr).toMatch(/--sink customer-profiles: .*PROFILES_KEY is not set/);
    expect(result.stderr).not.toMatch(/PROFILES_DOMAIN|PROFILES_OBJECT_TYPE/);
  });

  it("refuses an unknown sink", async () => {
    const result = await pia("local", "--rules", "r", "--events", "e", "--out", "o", "--sink", "fax");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /Allowed choices are file, pinpoint, customer-profiles, eventbridge, webhook/,
    );
  });
});
