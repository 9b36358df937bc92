import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocalUi } from "../src/local.js";
import { runCli } from "../src/runCli.js";
import { capture } from "./capture.js";

async function pia(argv: string[], untilStopped?: (url: string) => Promise<void>) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(
    argv,
    { stdout: stdout.stream, stderr: stderr.stream, now: () => Date.UTC(2030, 0, 1) },
    untilStopped === undefined ? {} : { untilStopped },
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const RULES_CSV = [
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key",
  "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview",
  "date,purchase,product,chair,na,999,smaller,100,no,2021-01-01,2021-01-31,cheap-chairs",
].join("\n");

const event = (type: string, ts: string, user = "u1") =>
  JSON.stringify({
    event_type: type,
    event_timestamp: Date.parse(ts),
    endpoint: { Id: `ep-${user}`, User: { UserId: user } },
    application: { app_id: "app" },
  });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-cli-ui-"));
  await writeFile(join(dir, "rules.csv"), RULES_CSV);
  await writeFile(
    join(dir, "events.ndjson"),
    [
      event("pageview", "2021-01-01T00:00:00Z"),
      event("pageview", "2021-01-02T00:00:00Z"),
      event("pageview", "2021-01-03T00:00:00Z", "u2"),
      "{broken",
    ].join("\n"),
  );
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("pia local flags", () => {
  it("requires --rules, --events and --out without --ui, naming every missing one", async () => {
    const result = await pia(["local", "--events", "e.ndjson"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("required options '--rules <file>', '--out <file>' not specified");
    expect(result.stderr).toContain("--ui");
  });

  it.each(["70000", "-1", "http"])("refuses --port %s", async (port) => {
    const result = await pia(["local", "--ui", "--port", port]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("expected a port, 0 to 65535");
  });

  it("exits 2 before starting the stack when the port is in use", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const started = Date.now();
      const result = await pia(["local", "--ui", "--port", String(port)], async () => {
        throw new Error("must not serve");
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`--port ${port}: the port is in use`);
      // DynamoDB Local alone takes seconds to start.
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      taken.close();
    }
  });
});

describe("pia local --ui", () => {
  it("runs the events, then serves the editor and the rules API on the stack until stopped", async () => {
    let served: string | undefined;
    // What fails while serving is rethrown here, not told as an exit code.
    let failure: unknown;
    const result = await pia(
      [
        "local",
        "--ui",
        "--port",
        "0",
        "--rules",
        join(dir, "rules.csv"),
        "--events",
        join(dir, "events.ndjson"),
        "--now",
        "2021-02-01",
      ],
      async (url) => {
        served = url;
        try {
          await checkServing(url);
        } catch (error: unknown) {
          failure = error;
        }
      },
    );
    if (failure !== undefined) throw failure;
    expect(result.stderr).toMatch(/records fed\s+4\b/);
    expect(result.code).toBe(0);
    expect(served).toMatch(/^http:\/\/localhost:\d+\/$/);
    expect(result.stdout).toContain(`rules editor: ${served}`);
    // Stopped: the server is gone with the stack.
    await expect(fetch(served ?? "")).rejects.toThrow();
  });
});

describe("pia local --ui's collection endpoint", () => {
  it("runs a Segment batch posted while it serves through the pipeline: count rules at once, closing rules at the schedule", async () => {
    const out = join(dir, "collected.ndjson");
    const stdout = capture();
    const stderr = capture();
    // The clock is the test's: the window of cheap-chairs (January 2021) closes while serving.
    let now = Date.parse("2021-01-20T00:00:00Z");
    let failure: unknown;
    await runLocalUi({
      rulesFile: join(dir, "rules.csv"),
      out,
      clock: () => now,
      port: 0,
      writeKey: "wk_local",
      scheduleEveryMs: 100,
      stdout: stdout.stream,
      stderr: stderr.stream,
      untilStopped: async (url) => {
        try {
          await postSegmentBatch(url, out, () => {
            now = Date.parse("2021-02-01T00:00:00Z");
          });
        } catch (error: unknown) {
          failure = error;
        }
      },
    });
    if (failure !== undefined) throw failure;
    expect(stdout.text()).toMatch(
      /collection endpoint: http:\/\/localhost:\d+\/v1\/batch .*write key wk_local/,
    );
  }, 90_000);

  it("prints the default write key when --write-key is not given", async () => {
    const result = await pia(["local", "--ui", "--port", "0"], async (url) => {
      const response = await fetch(new URL("v1/track", url), {
        method: "POST",
        headers: { authorization: `Basic ${Buffer.from("pia-local-write-key:").toString("base64")}` },
        body: JSON.stringify({ event: "pageview", userId: "u1", timestamp: "2021-01-01T00:00:00Z" }),
      });
      expect(response.status).toBe(200);
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("write key pia-local-write-key as user name");
  }, 60_000);
});

const segmentCall = (
  event: string,
  userId: string,
  timestamp: string,
  messageId: string,
  properties = {},
) => ({
  type: "track",
  event,
  userId,
  timestamp,
  messageId,
  properties,
});

async function notificationsIn(file: string): Promise<Array<{ ruleId: string; userId: string }>> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { ruleId: string; userId: string });
}

async function postSegmentBatch(url: string, out: string, closeWindow: () => void): Promise<void> {
  const body = JSON.stringify({
    batch: [
      segmentCall("pageview", "seg-1", "2021-01-05T10:00:00.000Z", "m1"),
      segmentCall("pageview", "seg-1", "2021-01-06T10:00:00.000+02:00", "m2"),
      segmentCall("purchase", "seg-2", "2021-01-10T12:00:00Z", "m3", { product: "chair", price: 50 }),
    ],
    context: { library: { name: "analytics-node", version: "2.1.0" } },
    sentAt: "2021-01-10T12:00:01Z",
  });
  const post = (key: string) =>
    fetch(new URL("v1/batch", url), {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
        "content-type": "application/json",
      },
      body,
    });
  expect((await post("pia-local-write-key")).status).toBe(401);
  const accepted = await post("wk_local");
  expect(accepted.status).toBe(200);
  // Answered once fed and drained: the count rule has fired.
  expect(await notificationsIn(out)).toMatchObject([{ ruleId: "aggregatorpageview", userId: "seg-1" }]);
  expect((await notificationsIn(out)).map(({ ruleId }) => ruleId)).not.toContain("cheap-chairs");
  // The date rule closes on 2021-01-31: the schedule, running on the clock while serving, decides it.
  closeWindow();
  const deadline = Date.now() + 30_000;
  while (
    !(await notificationsIn(out)).some(({ ruleId }) => ruleId === "cheap-chairs") &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  expect((await notificationsIn(out)).map(({ ruleId, userId }) => `${ruleId} ${userId}`).sort()).toEqual([
    "aggregatorpageview seg-1",
    "cheap-chairs seg-2",
  ]);
}

async function checkServing(url: string): Promise<void> {
  const page = await fetch(url);
  expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(await page.text()).toContain('<script type="module" src="editor.js">');
  const listed = (await (await fetch(new URL("rules", url))).json()) as {
    rules: { rule: { id: string } }[];
  };
  expect(listed.rules.map(({ rule }) => rule.id).sort()).toEqual(["aggregatorpageview", "cheap-chairs"]);
  const preview = await fetch(new URL("rules/preview", url), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      id: "two-views",
      event: "pageview",
      count: { op: ">", value: 1 },
      window: { from: "2021-01-01", to: "2021-01-31" },
      action: { type: "attribute", name: "two_views" },
    }),
  });
  expect(preview.status).toBe(200);
  expect(await preview.json()).toMatchObject({
    qualifying: 1,
    sample: [{ appId: "app", userId: "u1" }],
    usersSeen: 2,
    eventsRead: 3,
  });
}
