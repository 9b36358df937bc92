import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildRulesTable } from "@pia/aws";
import type { Rule } from "@pia/core";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LocalPipeline, type RulesUi, serveRulesUi } from "../src/index.js";

// The rules editor (services/rules/editor) in Debian's Chromium, driven by playwright-core, against
// `serveRulesUi` on a real local stack that has run events through the pipeline (so previews see
// them), as `pia local --ui` serves it.

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOTS = fileURLToPath(new URL("../../../.tsbuild/screenshots/", import.meta.url));
const NOW = Date.UTC(2021, 2, 1, 12);

const SEED: Rule = {
  id: "aggregatorpageview",
  event: "pageview",
  count: { op: ">", value: 1 },
  action: { type: "attribute", name: "pageview", value: "Ready" },
  reset: false,
  enabled: true,
};

const record = (user: string, type: string, at: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event_type: type,
    event_timestamp: Date.parse(at),
    endpoint: { Id: `ep-${user}`, User: { UserId: user } },
    application: { app_id: "shop" },
    ...extra,
  });
const chair = (price: number) => ({ attributes: { product: "chair" }, metrics: { price } });
const EVENTS = [
  record("u1", "purchase", "2021-02-28T10:00:00Z", chair(120)),
  record("u1", "purchase", "2021-02-28T11:00:00Z", chair(80)),
  record("u2", "purchase", "2021-03-01T09:00:00Z", chair(50)),
  record("u3", "pageview", "2021-02-27T09:00:00Z"),
  record("u3", "pageview", "2021-02-27T10:00:00Z"),
];

let dir: string;
let url: string;
let browser: Browser | undefined;
let page: Page;
let pipeline: LocalPipeline | undefined;
let ui: RulesUi | undefined;
const pageErrors: string[] = [];
// The page waits on DynamoDB Local through the API: allow more than expect.poll's default 1 s on a busy machine.
const SETTLED = { timeout: 15_000 };

const shoot = (name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `editor-${name}.png`), fullPage: true });
const field = (label: string) => page.getByLabel(label, { exact: true });
const button = (name: string) => page.getByRole("button", { name, exact: true });
const ruleRow = (id: string) => page.locator("#rules tbody tr").filter({ hasText: id });
const text = (selector: string) => async () => (await page.locator(selector).textContent()) ?? "";

// Every test fails, rather than being skipped, on a machine without Chromium.
const missingChromium = existsSync(CHROMIUM)
  ? undefined
  : `the rules editor's browser test needs Chromium at ${CHROMIUM}, which is missing: install Debian's chromium (sudo apt-get install chromium, or scripts/ensure-chromium.sh)`;

beforeEach(() => {
  if (missingChromium !== undefined) throw new Error(missingChromium);
});

beforeAll(async () => {
  if (missingChromium !== undefined) return;
  dir = await mkdtemp(join(tmpdir(), "pia-editor-"));
  await mkdir(SCREENSHOTS, { recursive: true });
  pipeline = await LocalPipeline.start({
    rules: [SEED],
    out: join(dir, "notifications.ndjson"),
    previewIndex: true,
  });
  await pipeline.feed(EVENTS);
  await pipeline.drain();
  await pipeline.runSchedule(NOW);
  // Served beside the running pipeline, as `pia local --ui` does.
  ui = await serveRulesUi({ stack: pipeline.stack, port: 0, now: () => NOW });
  url = ui.url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("console", (message) => {
    // Chromium logs every 4xx answer; the API's 400s and 409s are part of the test.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource"))
      pageErrors.push(message.text());
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  // Also after a failure in beforeAll: the stack's processes must not outlive the test.
  await pipeline?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("the rules editor in Chromium", () => {
  it("lists the rules of the rules table", async () => {
    await page.goto(url);
    await ruleRow("aggregatorpageview").waitFor();
    expect(await ruleRow("aggregatorpageview").textContent()).toContain("pageview: count > 1 (lifetime)");
    await shoot("1-list");
  });

  it("adds a rule: a date that does not exist and the API's errors show next to their fields", async () => {
    await button("New rule").click();
    await field("Rule id").fill("chair-buyers");
    await field("Rule type").selectOption("date");
    await field("Event type").fill("purchase");
    await field("Filter attribute").fill("product");
    await field("Filter value").fill("chair");
    await field("Count operator").selectOption(">");
    await field("Count target").fill("1");

    await field("Start date").fill("2021-02-29");
    await field("Finish date").focus();
    await expect
      .poll(text("#window-from-issue"), SETTLED)
      .toContain('"2021-02-29" is not a real calendar date');
    expect(await field("Start date").getAttribute("aria-invalid")).toBe("true");
    await button("Save").click();
    await shoot("2-date-error");
    expect(await ruleRow("chair-buyers").count()).toBe(0);

    await field("Start date").fill("2021-02-28");
    await field("Finish date").fill("2021-03-31");
    await field("Action type").selectOption("event");
    await field("Action name").fill("buyers");
    await button("Save").click();
    await expect.poll(text("#action-name-issue"), SETTLED).toContain('must start with "trk_"');
    expect(await text("#window-from-issue")()).toBe("");
    expect(await field("Start date").getAttribute("aria-invalid")).toBeNull();
    await shoot("3-api-error");

    // The default action name is the one the 12-column table derives.
    await field("Action type").selectOption("attribute");
    await field("Action name").fill("");
    await expect
      .poll(() => field("Action name").getAttribute("placeholder"), SETTLED)
      .toBe("trk_date_purchase_chair");
    await button("Check").click();
    await expect.poll(text("#form-error"), SETTLED).toBe("The rule is valid.");
    expect(await text("#action-name-issue")()).toBe("");
    await button("Save").click();
    await expect.poll(text("#status"), SETTLED).toBe("Saved chair-buyers (version 1).");
    await ruleRow("chair-buyers").waitFor();
    expect(await ruleRow("chair-buyers").textContent()).toContain(
      "purchase where product = chair: count > 1, between 2021-02-28 and 2021-03-31 (streaming) → set trk_date_purchase_chair = Ready",
    );
    await shoot("4-saved");
  });

  it("previews the rule on the events the pipeline stored", async () => {
    await button("Preview").click();
    await expect.poll(text("#preview-result"), SETTLED).toContain("1 user would qualify today");
    const preview = await text("#preview-result")();
    expect(preview).toContain("u1 (app shop)");
    expect(preview).toMatch(/3 events read, 2 users seen/);
    await shoot("5-preview");
  });

  it("says so when the rule changed since it was opened, and loads the current version", async () => {
    const current = (await (await fetch(new URL("rules/chair-buyers", url))).json()) as { rule: Rule };
    const changed = await fetch(new URL("rules/chair-buyers", url), {
      method: "PUT",
      headers: { "content-type": "application/json", "if-match": '"1"' },
      body: JSON.stringify({ ...current.rule, count: { op: ">", value: 2 } }),
    });
    expect(changed.status).toBe(200);

    await field("Count target").fill("3");
    await button("Save").click();
    await expect
      .poll(text("#form-error"), SETTLED)
      .toContain(
        "someone else changed this rule since you opened it (it is now at version 2; you edited version 1)",
      );
    await shoot("6-conflict");
    await button("Load the current version").click();
    await expect.poll(() => field("Count target").inputValue(), SETTLED).toBe("2");
    expect(await text("#form-heading")()).toBe("Rule chair-buyers (version 2)");
  });

  it("exports every rule as a row of the 12-column table", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), button("Export CSV").click()]);
    expect(download.suggestedFilename()).toBe("rules.csv");
    const csv = await readFile(await download.path(), "utf8");
    expect(csv.split("\r\n")).toEqual([
      "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key,MetricName",
      "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview,na",
      "date,purchase,product,chair,greater,2,na,999,no,2021-02-28,2021-03-31,chair-buyers,na",
      "",
    ]);
    await expect.poll(text("#status"), SETTLED).toBe("Exported 2 rules to rules.csv.");
  });

  it("imports a CSV as a whole: a file with an invalid row changes nothing and lists its errors", async () => {
    const header =
      "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";
    const rows = {
      signups: "aggregator,signup,na,999,greater,0,na,999,no,9999-99-99,9999-99-99,signups",
      leap: "date,purchase,na,999,greater,1,na,999,no,2021-02-29,2021-03-01,leap",
      views: "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview",
      chair: "date,purchase,product,chair,greater,2,na,999,no,2021-02-28,2021-03-31,chair-buyers",
    };
    const upload = (...lines: string[]) =>
      field("Import CSV").setInputFiles({
        name: "more.csv",
        mimeType: "text/csv",
        buffer: Buffer.from([header, ...lines].join("\n")),
      });

    await upload(rows.signups, rows.leap, rows.views, rows.chair);
    await expect
      .poll(text("#import-report h3"), SETTLED)
      .toMatch(/^Import of more\.csv refused, nothing changed/);
    expect(await page.locator("#import-report li").allTextContents()).toEqual([
      expect.stringMatching(/^line 3, StartDate: "2021-02-29" is not a real calendar date/),
    ]);
    expect(await ruleRow("signups").count()).toBe(0);
    await shoot("7-import-refused");

    // The file is the whole rule set, as with pia rules push: the rules it keeps are unchanged.
    await upload(rows.signups, rows.views, rows.chair);
    await expect
      .poll(text("#import-report h3"), SETTLED)
      .toBe("Import of more.csv: 1 created, 0 updated, 0 deleted, 2 unchanged");
    expect(await page.locator("#import-report li").allTextContents()).toEqual([
      "signups: created",
      "aggregatorpageview: unchanged",
      "chair-buyers: unchanged",
    ]);
    await ruleRow("signups").waitFor();
    await shoot("7-import");
  });

  it("explains why a user is in: the stored rule replayed on the user's stored events, beside the pipeline's state", async () => {
    await button("Edit aggregatorpageview").click();
    await expect.poll(text("#form-heading"), SETTLED).toMatch(/^Rule aggregatorpageview/);
    await button("Explain").click();
    await expect.poll(text("#explain-user-issue"), SETTLED).toBe("Type the user id to explain.");
    await field("User id").fill("u3");
    await field("App id").fill("shop");
    await button("Explain").click();
    await expect.poll(text("#explain-result"), SETTLED).toContain("User u3 in app shop: holds now");
    const answer = await text("#explain-result")();
    expect(answer).toContain("pageview: count > 1 (lifetime), then set attribute pageview = Ready.");
    expect(answer).toContain("Totals: count 2, sum 0.");
    expect(answer).toContain('Fired: 1 notification2021-02-27 10:00:00Z pageview = "Ready"');
    expect(answer).toContain("Events that counted: 2");
    expect(answer).toContain("Replayed 2 stored events of the user");
    // The pipeline counted the same events into the counters table, which the route reads too.
    expect(answer).toMatch(/Pipeline state: (?!none).*count 2/);
    await shoot("8-explain");

    await field("User id").fill("nobody");
    await button("Explain").click();
    await expect.poll(text("#explain-result"), SETTLED).toContain("no event counted, nothing to decide");
    expect(await text("#explain-result")()).toContain("Pipeline state: none");
  });

  it("disables, enables and deletes a rule", async () => {
    await button("Disable chair-buyers").click();
    await expect.poll(() => ruleRow("chair-buyers").locator("td").nth(2).textContent(), SETTLED).toBe("no");
    await shoot("9-disabled");
    await button("Enable chair-buyers").click();
    await expect.poll(() => ruleRow("chair-buyers").locator("td").nth(2).textContent(), SETTLED).toBe("yes");
    page.once("dialog", (dialog) => void dialog.accept());
    await button("Delete chair-buyers").click();
    await expect.poll(() => ruleRow("chair-buyers").count(), SETTLED).toBe(0);
    await expect.poll(text("#status"), SETTLED).toBe("Deleted chair-buyers.");
    expect(pageErrors).toEqual([]);
  });

  it("offers a backfill on a new rule and on an edit that counts anew, and shows where it is", async () => {
    await button("New rule").click();
    // Offered on a new rule, off unless chosen; not for a rolling window.
    expect(await page.locator("#backfill-offer").isVisible()).toBe(true);
    expect(await field("Count stored history (backfill)").inputValue()).toBe("off");
    expect((await text("#backfill-hint")()).replace(/\s+/g, " ").trim()).toBe(
      "Counts the events already stored, as if the rule had been live since the oldest one; rolling-window rules are not backfilled.",
    );
    await field("Rule type").selectOption("rolling");
    expect(await field("Count stored history (backfill)").isDisabled()).toBe(true);
    await field("Rule type").selectOption("aggregator");
    await field("Rule id").fill("views-history");
    await field("Event type").fill("pageview");
    await field("Count operator").selectOption(">");
    await field("Count target").fill("1");
    await field("Count stored history (backfill)").selectOption("notify");
    await shoot("10-backfill-offer");
    await button("Save").click();
    await expect
      .poll(text("#status"), SETTLED)
      .toBe("Saved views-history (version 1). Backfill requested: the stored events will be counted.");
    await expect
      .poll(text("#backfill-status"), SETTLED)
      .toMatch(
        /^Backfill: requested at .*, waiting for the backfill job \(notifying users who already qualify\)\.$/,
      );
    // Saved: the rule counts what it did, so there is nothing new to offer.
    expect(await page.locator("#backfill-offer").isVisible()).toBe(false);

    // The backfill job moves it on (as the timeseries job saves it), seen when the rule is opened.
    const stack = pipeline?.stack;
    if (stack === undefined) throw new Error("no stack");
    const raw = new DynamoDBClient({
      region: stack.region,
      endpoint: stack.dynamoEndpoint,
      credentials: stack.credentials,
    });
    try {
      const rules = buildRulesTable(DynamoDBDocumentClient.from(raw), stack.tableNames.rules);
      const [job] = await rules.backfills.list();
      if (job === undefined) throw new Error("the editor's save stored no backfill job");
      expect(job).toMatchObject({ ruleId: "views-history", mode: "notify", state: "requested" });
      const progress = { days: 120, daysTotal: 401, merged: 5300, eventsRead: 90_000, notifications: 12 };
      const boundary = Date.UTC(2021, 2, 1, 12, 2);
      expect(
        await rules.backfills.save({ ...job, state: "discovering", boundary, progress, rev: job.rev + 1 }),
      ).toBe(true);
      await button("Edit views-history").click();
      await expect
        .poll(text("#backfill-status"), SETTLED)
        .toBe(
          "Backfill: discovering, 120/401 days, 5,300 users merged, 12 notifications (notifying users who already qualify). History: the events that arrived before 2021-03-01 12:02:00Z, 90,000 read so far.",
        );
      await shoot("11-backfill-status");
      // An edit that keeps the counting offers nothing; one that counts another event does.
      expect(await page.locator("#backfill-offer").isVisible()).toBe(false);
      await field("Count target").fill("2");
      await page.waitForTimeout(500);
      expect(await page.locator("#backfill-offer").isVisible()).toBe(false);
      await field("Event type").fill("signup");
      await expect.poll(() => page.locator("#backfill-offer").isVisible(), SETTLED).toBe(true);
      await field("Event type").fill("pageview");
      await expect.poll(() => page.locator("#backfill-offer").isVisible(), SETTLED).toBe(false);

      const finishedAt = Date.UTC(2021, 2, 1, 13);
      const current = await rules.backfills.get(job.counterKey);
      if (current === undefined) throw new Error("the job is gone");
      await rules.backfills.save({ ...current, state: "done", finishedAt, rev: current.rev + 1 });
      await button("Edit views-history").click();
      await expect
        .poll(text("#backfill-status"), SETTLED)
        .toBe(
          "Backfill: done at 2021-03-01 13:00:00Z, 120/401 days, 5,300 users merged, 12 notifications (notifying users who already qualify). History: the events that arrived before 2021-03-01 12:02:00Z, 90,000 read so far.",
        );
    } finally {
      raw.destroy();
    }
    expect(pageErrors).toEqual([]);
  });
});
