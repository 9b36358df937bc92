import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { counterKey, type PiaEvent, recordReader } from "@pia/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadRulesFile } from "../src/loadRulesFile.js";
import { runCli } from "../src/runCli.js";
import { capture, pia } from "./capture.js";

let dir: string;
const NOW = "2021-12-31T00:00:00Z";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-explain-"));
  expect((await pia("sample", "--out", dir, "--users", "40", "--events", "3000")).code).toBe(0);
  await writeFile(
    join(dir, "rolling.yaml"),
    '- id: active\n  event: lesson_completed\n  count: { op: ">", value: 1 }\n  window: { last: 7d }\n  action: { type: attribute, name: active }\n',
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

interface Line {
  userId: string;
  ruleId: string;
  at: string;
  seq?: number;
}

async function simulated(rules: string): Promise<Line[]> {
  const out = join(dir, "notifications.ndjson");
  const run = await pia(
    "simulate",
    "--rules",
    rules,
    "--events",
    join(dir, "events.ndjson"),
    "--now",
    NOW,
    "--out",
    out,
  );
  expect(run.code).toBe(0);
  return (await readFile(out, "utf8"))
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Line);
}

const explain = (rules: string, rule: string, user: string, ...more: string[]) =>
  pia(
    "explain",
    "--rules",
    rules,
    "--events",
    join(dir, "events.ndjson"),
    "--rule",
    rule,
    "--user",
    user,
    "--now",
    NOW,
    ...more,
  );

/** The `at` (and seq) of every notification an explanation lists. */
function firedIn(text: string): string[] {
  return [...text.matchAll(/^ {4}(\d{4}-\d\d-\d\dT[\d:.]+Z)(?! {2})( seq \d+)?/gm)].map(
    (m) => `${m[1]}${m[2] ?? ""}`,
  );
}

describe("pia explain", () => {
  it("lists, for sampled users, exactly the notifications pia simulate wrote", async () => {
    const rules = join(dir, "rules.csv");
    const notifications = await simulated(rules);
    const pairs = [...new Set(notifications.map((n) => `${n.ruleId}\u0000${n.userId}`))].slice(0, 8);
    expect(pairs.length).toBeGreaterThan(3);
    for (const pair of pairs) {
      const [ruleId = "", userId = ""] = pair.split("\u0000");
      const run = await explain(rules, ruleId, userId, "--limit", "0");
      expect(run.code).toBe(0);
      const expected = notifications
        .filter((n) => n.ruleId === ruleId && n.userId === userId)
        .map((n) => n.at);
      expect(firedIn(run.stdout)).toEqual(expected);
      expect(run.stdout).toContain(`fired: ${expected.length} notification`);
    }
  });

  it("a rolling rule: entries and exits with seq, as simulate", async () => {
    const rules = join(dir, "rolling.yaml");
    const notifications = await simulated(rules);
    const userId = notifications[0]?.userId ?? "";
    const run = await explain(rules, "active", userId, "--limit", "3");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("lesson_completed: count > 1 in the last 7 days");
    expect(run.stdout).toMatch(/ {2}window: /);
    const expected = notifications.filter((n) => n.userId === userId).map((n) => `${n.at} seq ${n.seq}`);
    expect(firedIn(run.stdout)).toEqual(expected);
  });

  it("the totals match simulate's decision for sampled users of a closing rule", async () => {
    const rules = join(dir, "rules.csv");
    const notified = new Set(
      (await simulated(rules)).filter((n) => n.ruleId === "april-two-searches").map((n) => n.userId),
    );
    // april-two-searches: count = 2 of search events in April 2021 (closing, no reset): a user's
    // totals are 2 exactly when simulate notified them.
    const users = [...new Set((await readFile(join(dir, "events.ndjson"), "utf8")).match(/customer-\d+/g))];
    expect(notified.size).toBeGreaterThan(0);
    for (const user of [...notified, ...users.slice(0, 8)]) {
      const run = await explain(rules, "april-two-searches", user, "--limit", "1000");
      // One block per app the user has events in: the notified app is the one at 2.
      const counts = [...run.stdout.matchAll(/totals: count (\d+)/g)].map((m) => Number(m[1]));
      const listed = [...run.stdout.matchAll(/events that counted: (\d+)\n/g)].map((m) => Number(m[1]));
      expect(counts.includes(2), user).toBe(notified.has(user));
      expect(listed).toEqual(counts);
      expect(firedIn(run.stdout)).toHaveLength(notified.has(user) ? 1 : 0);
    }
  });

  it("an unknown rule exits 2 listing the ids; a user without events is said so", async () => {
    const rules = join(dir, "rules.csv");
    const unknown = await explain(rules, "nope", "x");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--rule nope: no such rule .*chair-spender/);
    const ghost = await explain(rules, "chair-spender", "ghost");
    expect(ghost.code).toBe(0);
    expect(ghost.stdout).toContain("user ghost has no events");
    expect((await explain(rules, "chair-spender", "ghost", "--limit", "-1")).code).toBe(2);
  });
});

describe("pia explain --stage", () => {
  /** The sample's events as the events table holds them: one item per identity (the last wins). */
  async function storedEvents(): Promise<PiaEvent[]> {
    const reader = recordReader();
    const byIdentity = new Map<string, PiaEvent>();
    for (const line of (await readFile(join(dir, "events.ndjson"), "utf8")).split("\n")) {
      if (line.trim() === "") continue;
      for (const outcome of reader.read(line)) {
        if (outcome.kind !== "event") continue;
        const { event } = outcome;
        byIdentity.set(`${event.appId}\u0000${event.userId}\u0000${event.identity}`, event);
      }
    }
    return [...byIdentity.values()];
  }

  async function onStage(
    stored: readonly PiaEvent[],
    counters: Map<string, Record<string, unknown>>,
    ...argv: string[]
  ) {
    const stdout = capture();
    const stderr = capture();
    const rules = (await loadRulesFile(join(dir, "rules.csv"))).rules;
    const asked: string[] = [];
    const code = await runCli(
      argv,
      { stdout: stdout.stream, stderr: stderr.stream, now: () => Date.UTC(2030, 0, 1) },
      {
        openRulesStore: async (target) => {
          asked.push(target.tableName);
          return {
            list: async () => [...rules],
            put: async () => ({ written: 0, deleted: 0, unchanged: 0 }),
            remove: async () => false,
            backfills: { list: async () => [] },
          };
        },
        openStageReader: async (_target, tables) => {
          asked.push(tables.events, tables.counters);
          return {
            // In reverse: the table gives a user's events in no time order.
            userEvents: async (appId, userId, max) => {
              const events = stored.filter((e) => e.appId === appId && e.userId === userId).reverse();
              return { events: events.slice(0, max), unreadable: 0, truncated: events.length > max };
            },
            storedCounter: async (appId, userId, key) => counters.get(`${appId}\u0000${userId}\u0000${key}`),
          };
        },
      },
    );
    return { code, stdout: stdout.text(), stderr: stderr.text(), asked };
  }

  it("replays a user's stored events: the same totals and notifications as the file explanation", async () => {
    const stored = await storedEvents();
    const rules = join(dir, "rules.csv");
    const notifications = await simulated(rules);
    const pairs = [...new Set(notifications.map((n) => `${n.ruleId}\u0000${n.userId}`))].slice(0, 6);
    expect(pairs.length).toBeGreaterThan(3);
    for (const pair of pairs) {
      const [ruleId = "", userId = ""] = pair.split("\u0000");
      const appId = stored.find((e) => e.userId === userId)?.appId ?? "";
      const fromFile = await explain(rules, ruleId, userId, "--app", appId, "--limit", "5");
      const fromStage = await onStage(
        stored,
        new Map(),
        "explain",
        "--stage",
        "dev",
        "--rule",
        ruleId,
        "--user",
        userId,
        "--app",
        appId,
        "--now",
        NOW,
        "--limit",
        "5",
      );
      expect(fromStage.code, fromStage.stderr).toBe(0);
      expect(fromStage.asked).toEqual(["pia-dev-rules", "pia-dev-events", "pia-dev-counters"]);
      const totals = (text: string) => [...text.matchAll(/totals.*: count \d+, sum \S+/g)].map((m) => m[0]);
      expect(totals(fromStage.stdout)).toEqual(totals(fromFile.stdout));
      expect(firedIn(fromStage.stdout)).toEqual(firedIn(fromFile.stdout));
      expect(fromStage.stdout).toMatch(
        /replayed \d+ stored events? of the user from the events table pia-dev-events/,
      );
      expect(fromStage.stdout).toContain("pipeline state in pia-dev-counters: none");
    }
  });

  it("prints the pipeline's stored state beside the replay", async () => {
    const stored = await storedEvents();
    const rules = (await loadRulesFile(join(dir, "rules.csv"))).rules;
    const rule = rules.find((r) => r.id === "chair-spender");
    if (rule === undefined) throw new Error("the sample has chair-spender");
    const user = stored[0] as PiaEvent;
    const counters = new Map([
      [`${user.appId}\u0000${user.userId}\u0000${counterKey(rule)}`, { count: 3, sum: "12.5", fired: true }],
    ]);
    const run = await onStage(
      stored,
      counters,
      "explain",
      "--stage",
      "dev",
      "--rule",
      "chair-spender",
      "--user",
      user.userId,
      "--app",
      user.appId,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("pipeline state in pia-dev-counters: count 3, sum 12.5, fired");
  });

  it("refuses --stage without --app, or with --rules or --events", async () => {
    const none = await onStage([], new Map(), "explain", "--stage", "dev", "--rule", "r", "--user", "u");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("--stage needs --app");
    const both = await onStage(
      [],
      new Map(),
      "explain",
      "--stage",
      "dev",
      "--rules",
      "x.csv",
      "--rule",
      "r",
      "--user",
      "u",
      "--app",
      "a",
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("leave out --rules and --events");
    const neither = await pia("explain", "--rule", "r", "--user", "u");
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("pass --rules FILE and --events FILE, or --stage STAGE");
  });
});
