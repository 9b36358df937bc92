import { Logger } from "@aws-lambda-powertools/logger";
import { InvalidStoredRulesError, type StageReader } from "@pia/aws";
import type { PiaEvent, Rule } from "@pia/core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { buildRulesApiHandler } from "../src/buildRulesApiHandler.js";
import type { RulesApiConfig } from "../src/config.js";
import { PreviewUnavailableError } from "../src/errors.js";
import type { ReadEventsByTypeDay } from "../src/ports.js";
import { apiEvent, context, type EventOptions, USER_ARN } from "./events.js";
import { fakeStore } from "./fakeStore.js";

const NOW = Date.UTC(2030, 0, 2, 3, 4, 5);
const AT = "2030-01-02T03:04:05.000Z";
const ORIGIN = "https://rules.example.com";

const RULE: Rule = {
  id: "views",
  event: "pageview",
  count: { op: ">", value: 3 },
  action: { type: "attribute", name: "views", value: "Ready" },
  reset: false,
  enabled: true,
};
/** The same rule as a draft: defaults left out. */
const DRAFT = {
  id: "views",
  event: "pageview",
  count: { op: ">", value: 3 },
  action: { type: "attribute", name: "views" },
};

let output: string[];

beforeEach(() => {
  output = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      output.push(String(chunk));
      return true;
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
});

function api(config: Partial<RulesApiConfig> = {}) {
  const fake = fakeStore();
  const handler = buildRulesApiHandler({
    config: {
      rulesTable: "pia-test-rules",
      access: { authorizer: "iam" },
      allowedOrigins: [ORIGIN],
      ...config,
    },
    store: fake.store,
    logger: new Logger({ serviceName: "pia-rules", logLevel: "INFO" }),
    now: () => NOW,
  });
  const call = async (method: string, path: string, options: EventOptions = {}) => {
    const result = await handler(apiEvent(method, path, options), context);
    return {
      status: result.statusCode,
      headers: result.headers ?? {},
      body: result.body === undefined ? undefined : JSON.parse(result.body),
    };
  };
  return { ...fake, call };
}

const ifMatch = (version: number) => ({ headers: { "if-match": `"${version}"` } });

describe("GET /rules and GET /rules/{id}", () => {
  it("lists nothing, then every rule with its version", async () => {
    const t = api();
    expect(await t.call("GET", "/rules")).toMatchObject({ status: 200, body: { rules: [] } });
    await t.call("POST", "/rules", { body: DRAFT });
    await t.call("POST", "/rules", { body: { ...DRAFT, id: "more" } });
    const listed = await t.call("GET", "/rules");
    expect(listed.status).toBe(200);
    expect(
      listed.body.rules.map((entry: { rule: Rule; version: number }) => [entry.rule.id, entry.version]),
    ).toEqual([
      ["more", 1],
      ["views", 1],
    ]);
  });

  it("gives one rule with its version as ETag, 404 for an unknown id", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const got = await t.call("GET", "/rules/views");
    expect(got).toMatchObject({
      status: 200,
      headers: { etag: '"1"' },
      body: { rule: RULE, version: 1, updatedAt: AT, updatedBy: USER_ARN },
    });
    const missing = await t.call("GET", "/rules/nope");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toMatch(/there is no rule "nope"/);
  });

  it("addresses ids with spaces and # as API Gateway hands them over (decoded)", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: { ...DRAFT, id: "aggregator pageview#2" } });
    expect((await t.call("GET", "/rules/aggregator pageview#2")).body.rule.id).toBe("aggregator pageview#2");
  });
});

describe("rolling rules (window.last)", () => {
  const ACTIVE = {
    id: "active",
    event: "pageview",
    count: { op: ">", value: 5 },
    window: { last: "7d" },
    action: { type: "attribute", name: "active" },
  };

  it("creates, stores, lists and gets a rolling rule, each with the core's words", async () => {
    const t = api();
    const created = await t.call("POST", "/rules", { body: ACTIVE });
    expect(created).toMatchObject({
      status: 201,
      body: {
        rule: { ...ACTIVE, action: { ...ACTIVE.action, value: "Ready" }, reset: false, enabled: true },
        words: "pageview: count > 5 in the last 7 days",
        version: 1,
      },
    });
    expect(t.rules.get("active")?.rule.window).toEqual({ last: "7d" });
    await t.call("POST", "/rules", { body: DRAFT });

    const listed = await t.call("GET", "/rules");
    expect(listed.body.rules.map((entry: { words: string }) => entry.words)).toEqual([
      "pageview: count > 5 in the last 7 days",
      "pageview: count > 3 (lifetime)",
    ]);
    expect((await t.call("GET", "/rules/active")).body.words).toBe("pageview: count > 5 in the last 7 days");
  });

  it("edits a rolling rule: another length, a reset, then back to a lifetime rule", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: ACTIVE });
    const longer = await t.call("PUT", "/rules/active", {
      body: { ...ACTIVE, window: { last: "36h" } },
      ...ifMatch(1),
    });
    expect(longer).toMatchObject({
      status: 200,
      body: { version: 2, words: "pageview: count > 5 in the last 36 hours" },
    });
    const streak = {
      ...ACTIVE,
      count: { op: ">=", value: 4 },
      action: { type: "event", name: "trk_streak" },
      reset: true,
    };
    expect((await t.call("PUT", "/rules/active", { body: streak, ...ifMatch(2) })).body.words).toBe(
      "pageview: count >= 4 in the last 7 days, again each time it is reached (reset)",
    );
    const { window: _, ...lifetime } = ACTIVE;
    const back = await t.call("PUT", "/rules/active", { body: lifetime, ...ifMatch(3) });
    expect(back.body.rule.window).toBeUndefined();
    expect(t.versions.get("active")?.map((v) => v.after?.window)).toEqual([
      { last: "7d" },
      { last: "36h" },
      { last: "7d" },
      undefined,
    ]);
  });

  it("warns, and still saves, when a rolling rule's attribute is also set by a stored rule", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const shared = await t.call("POST", "/rules", {
      body: { ...ACTIVE, action: { type: "attribute", name: "views" } },
    });
    expect(shared).toMatchObject({ status: 201 });
    expect(shared.body.warnings).toEqual([
      {
        path: "action.name",
        message: expect.stringContaining('the attribute "views" is also set by "views"'),
      },
    ]);
    const own = await t.call("PUT", "/rules/active", { body: ACTIVE, ...ifMatch(1) });
    expect(own.status).toBe(200);
    expect(own.body.warnings).toBeUndefined();
  });

  it("refuses what the core refuses of a rolling rule, by field: its length, a reset it cannot do", async () => {
    const t = api();
    const long = await t.call("POST", "/rules", { body: { ...ACTIVE, window: { last: "401d" } } });
    expect(long).toMatchObject({
      status: 400,
      body: { errors: [{ path: "window.last", message: expect.stringContaining("outside 1h..400d") }] },
    });
    const both = await t.call("POST", "/rules", {
      body: { ...ACTIVE, window: { last: "7d", from: "2021-01-01" } },
    });
    expect(both.status).toBe(400);
    expect(both.body.errors).toContainEqual({
      path: "window.from",
      message: expect.stringContaining('"last" excludes "from"'),
    });
    const reset = await t.call("POST", "/rules", {
      body: { ...ACTIVE, count: { op: "<", value: 2 }, reset: true },
    });
    expect(reset.status).toBe(400);
    expect(reset.body.errors.map((error: { path: string }) => error.path)).toEqual(["reset", "reset"]);
    expect(t.rules.size).toBe(0);
  });
});

describe("POST /rules", () => {
  it("creates the rule with defaults applied, records version 1, and says where it is", async () => {
    const t = api();
    const created = await t.call("POST", "/rules", { body: DRAFT });
    expect(created).toMatchObject({
      status: 201,
      headers: { etag: '"1"', location: "/rules/views" },
      body: { rule: RULE, version: 1, updatedAt: AT, updatedBy: USER_ARN },
    });
    expect(t.versions.get("views")).toEqual([
      { ruleId: "views", version: 1, change: "create", at: AT, by: USER_ARN, after: RULE },
    ]);
  });

  it("refuses an id that exists with 409", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const again = await t.call("POST", "/rules", { body: { ...DRAFT, event: "click" } });
    expect(again.status).toBe(409);
    expect(again.body.message).toMatch(/exists already/);
    expect(t.rules.get("views")?.rule.event).toBe("pageview");
  });

  it("lists every validation error by field, and writes nothing", async () => {
    const t = api();
    const refused = await t.call("POST", "/rules", {
      body: {
        id: "x",
        event: "purchase",
        count: { op: "!=", value: 3 },
        action: { type: "sms", name: "n" },
        colour: 1,
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { path: "count.op", message: 'unknown operator "!="; use one of >, >=, =, <, <=' },
      {
        path: "action.type",
        message:
          'unknown action type "sms"; use attribute (set a user attribute) or event (fire a trk_ event)',
      },
      {
        path: "colour",
        message:
          'unknown key "colour"; allowed here: id, event, where, count, sum, window, action, reset, enabled. Fix its spelling or remove it',
      },
    ]);
    expect(t.rules.size).toBe(0);
  });

  it.each([
    ["a draft without condition", { ...DRAFT, count: undefined }, ""],
    ["a negative count", { ...DRAFT, count: { op: ">", value: -1 } }, "count.value"],
    ["a non-text filter", { ...DRAFT, where: { a: 5 } }, "where.a"],
    ["a fired event without trk_", { ...DRAFT, action: { type: "event", name: "nope" } }, "action.name"],
    ["an id the path cannot carry", { ...DRAFT, id: "a/b" }, "id"],
    ["a lifetime fewer-than", { ...DRAFT, count: { op: "<", value: 3 } }, "count.op"],
  ])("names the field of %s", async (_, body, path) => {
    const refused = await api().call("POST", "/rules", { body });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((error: { path: string }) => error.path)).toEqual([path]);
  });

  it.each([
    ["bad JSON", { rawBody: '{"id": "x",' }, /the body is not valid JSON/],
    ["no body", {}, /the request has no body/],
  ])("answers 400 to %s", async (_, options, message) => {
    const refused = await api().call("POST", "/rules", options);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(message);
  });

  it("reads a base64 body", async () => {
    expect((await api().call("POST", "/rules", { body: DRAFT, base64: true })).status).toBe(201);
  });

  it("returns the warnings of a valid rule", async () => {
    const created = await api().call("POST", "/rules", {
      body: { ...DRAFT, window: { from: "2021-01-01", to: "2021-01-31" }, reset: true },
    });
    expect(created.status).toBe(201);
    expect(created.body.warnings).toEqual([
      {
        path: "reset",
        message:
          "reset only applies to lifetime rules (without window); it is ignored on this window rule: remove it",
      },
    ]);
  });
});

describe("POST /rules/validate", () => {
  it("checks a draft without writing: the rule with defaults, or every error by field", async () => {
    const t = api();
    expect(await t.call("POST", "/rules/validate", { body: DRAFT })).toMatchObject({
      status: 200,
      body: { rule: RULE, warnings: [] },
    });
    const refused = await t.call("POST", "/rules/validate", {
      body: { ...DRAFT, action: { type: "event" } },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors.map((error: { path: string }) => error.path)).toEqual(["action.name"]);
    expect(t.rules.size).toBe(0);
    expect(t.versions.size).toBe(0);
  });
});

describe("PUT /rules/{id}", () => {
  it("replaces the rule at the expected version and records before and after", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const changed = { ...DRAFT, count: { op: ">", value: 10 } };
    const updated = await t.call("PUT", "/rules/views", { body: changed, ...ifMatch(1) });
    expect(updated).toMatchObject({ status: 200, headers: { etag: '"2"' }, body: { version: 2 } });
    expect(updated.body.rule.count).toEqual({ op: ">", value: 10 });
    expect(t.versions.get("views")?.[1]).toEqual({
      ruleId: "views",
      version: 2,
      change: "update",
      at: AT,
      by: USER_ARN,
      before: RULE,
      after: { ...RULE, count: { op: ">", value: 10 } },
    });
  });

  it("takes the expected version from the body too", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const updated = await t.call("PUT", "/rules/views", { body: { ...DRAFT, event: "click", version: 1 } });
    expect(updated).toMatchObject({ status: 200, body: { version: 2, rule: { event: "click" } } });
  });

  it("answers 428 without an expected version", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const refused = await t.call("PUT", "/rules/views", { body: DRAFT });
    expect(refused.status).toBe(428);
    expect(refused.body.message).toMatch(/If-Match/);
  });

  it("answers 409 with the current version when the rule moved on", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    await t.call("PUT", "/rules/views", { body: { ...DRAFT, event: "click" }, ...ifMatch(1) });
    const stale = await t.call("PUT", "/rules/views", { body: { ...DRAFT, event: "tap" }, ...ifMatch(1) });
    expect(stale).toMatchObject({ status: 409, body: { currentVersion: 2 } });
    expect(t.rules.get("views")?.rule.event).toBe("click");
  });

  it("answers 409 when another change lands between the read and the write", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    t.hooks.beforeWrite = () => {
      t.hooks.beforeWrite = undefined;
      t.sneak({ ...RULE, event: "sneaky" });
    };
    const lost = await t.call("PUT", "/rules/views", { body: { ...DRAFT, event: "click" }, ...ifMatch(1) });
    expect(lost.status).toBe(409);
    expect(lost.body.message).toMatch(/changed while this change was being written/);
    expect(t.rules.get("views")?.rule.event).toBe("sneaky");
  });

  it("answers 404 for a rule that does not exist: PUT never creates", async () => {
    const t = api();
    const missing = await t.call("PUT", "/rules/views", { body: DRAFT, ...ifMatch(0) });
    expect(missing.status).toBe(404);
    expect(t.rules.size).toBe(0);
  });

  it("refuses a body whose id differs from the path's, by field", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const refused = await t.call("PUT", "/rules/views", { body: { ...DRAFT, id: "other" }, ...ifMatch(1) });
    expect(refused.status).toBe(400);
    expect(refused.body.errors).toEqual([
      { path: "id", message: expect.stringMatching(/path names rule "views"/) },
    ]);
  });

  it.each([
    ["an If-Match that is no version", { headers: { "if-match": "abc" } }, {}],
    ["a body version that is no whole number", {}, { version: "1" }],
    ["an If-Match and a body version that differ", ifMatch(1), { version: 2 }],
  ])("answers 400 to %s", async (_, options, extra) => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const refused = await t.call("PUT", "/rules/views", { body: { ...DRAFT, ...extra }, ...options });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toMatch(/version|If-Match/);
  });

  it("accepts weak and unquoted ETags in If-Match", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const weak = await t.call("PUT", "/rules/views", {
      body: { ...DRAFT, event: "a" },
      headers: { "If-Match": 'W/"1"' },
    });
    expect(weak.status).toBe(200);
    const bare = await t.call("PUT", "/rules/views", {
      body: { ...DRAFT, event: "b" },
      headers: { "if-match": "2" },
    });
    expect(bare.body.version).toBe(3);
  });

  it("records nothing when the rule is sent unchanged", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const same = await t.call("PUT", "/rules/views", { body: { ...RULE }, ...ifMatch(1) });
    expect(same).toMatchObject({ status: 200, body: { version: 1 } });
    expect(t.versions.get("views")).toHaveLength(1);
  });
});

describe("backfill on POST /rules, PUT /rules/{id} and restore", () => {
  const ROLLING = { ...DRAFT, id: "active", window: { last: "7d" } };

  it("is off by default: no job, no outcome", async () => {
    const t = api();
    const created = await t.call("POST", "/rules", { body: DRAFT });
    expect(created.status).toBe(201);
    expect(created.body.backfillOutcome).toBeUndefined();
    expect(created.body.backfill).toBeUndefined();
    expect(
      (await t.call("POST", "/rules", { body: { ...DRAFT, id: "off", backfill: "off" } })).body,
    ).not.toHaveProperty("backfillOutcome");
    expect(t.backfills.size).toBe(0);
  });

  it("refuses any other value with 400 naming the field and the choices, beside the rule's own errors", async () => {
    const t = api();
    for (const value of ["yes", true, null, "NOTIFY", { mode: "notify" }]) {
      const refused = await t.call("POST", "/rules", { body: { ...DRAFT, backfill: value } });
      expect(refused.status).toBe(400);
      expect(refused.body.errors).toEqual([
        {
          path: "backfill",
          message: expect.stringMatching(/^is .*: use "off" \(the default.*"notify" .*or "silent"/),
        },
      ]);
    }
    const both = await t.call("POST", "/rules", { body: { ...DRAFT, event: "", backfill: "all" } });
    expect(both.body.errors.map((error: { path: string }) => error.path)).toEqual(["backfill", "event"]);
    const put = await t.call("PUT", "/rules/views", { body: { ...DRAFT, backfill: 1 }, ...ifMatch(1) });
    expect(put).toMatchObject({ status: 400, body: { errors: [{ path: "backfill" }] } });
    expect(t.rules.size).toBe(0);
    expect(t.backfills.size).toBe(0);
  });

  it("says requested on a create, and shows the job in the answer, GET and the list", async () => {
    const t = api();
    const created = await t.call("POST", "/rules", { body: { ...DRAFT, backfill: "silent" } });
    const status = {
      state: "requested",
      mode: "silent",
      requestedAt: AT,
      requestedBy: USER_ARN,
      progress: { days: 0, daysTotal: 0, merged: 0, eventsRead: 0, notifications: 0 },
    };
    expect(created).toMatchObject({ status: 201, body: { backfillOutcome: "requested", backfill: status } });
    const [job] = t.backfills.values();
    expect(job).toMatchObject({ ruleId: "views", mode: "silent", requestedBy: USER_ARN, requestedAt: NOW });
    // The job moves on: the API shows its instants in ISO.
    if (job === undefined) throw new Error("no job");
    t.backfills.set(job.counterKey, {
      ...job,
      state: "done",
      boundary: NOW + 1000,
      settledAt: NOW + 2000,
      finishedAt: NOW + 3000,
      progress: { days: 3, daysTotal: 3, merged: 2, eventsRead: 9, notifications: 0 },
    });
    const done = {
      ...status,
      state: "done",
      boundary: "2030-01-02T03:04:06.000Z",
      settledAt: "2030-01-02T03:04:07.000Z",
      finishedAt: "2030-01-02T03:04:08.000Z",
      progress: { days: 3, daysTotal: 3, merged: 2, eventsRead: 9, notifications: 0 },
    };
    const got = await t.call("GET", "/rules/views");
    expect(got.body.backfill).toEqual(done);
    expect(got.body.backfillOutcome).toBeUndefined();
    expect((await t.call("GET", "/rules")).body.rules[0].backfill).toEqual(done);
  });

  it("says alreadyCounting for an edit that keeps the counting, notSupported for a rolling rule", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const renamed = { ...DRAFT, action: { type: "attribute", name: "renamed" }, backfill: "notify" };
    const kept = await t.call("PUT", "/rules/views", { body: renamed, ...ifMatch(1) });
    expect(kept).toMatchObject({ status: 200, body: { version: 2, backfillOutcome: "alreadyCounting" } });
    const rolling = await t.call("POST", "/rules", { body: { ...ROLLING, backfill: "notify" } });
    expect(rolling).toMatchObject({ status: 201, body: { version: 1, backfillOutcome: "notSupported" } });
    expect(t.backfills.size).toBe(0);
    // An edit that counts another event is a new counting.
    const moved = await t.call("PUT", "/rules/views", {
      body: { ...DRAFT, event: "click", backfill: "notify", version: 2 },
    });
    expect(moved).toMatchObject({ status: 200, body: { version: 3, backfillOutcome: "requested" } });
    expect(moved.body.backfill).toMatchObject({ state: "requested", mode: "notify" });
    expect([...t.backfills.keys()]).toEqual([moved.body.counterKey]);
  });

  it("takes backfill in a restore's optional body", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    await t.call("PUT", "/rules/views", { body: { ...DRAFT, event: "click" }, ...ifMatch(1) });
    const restored = await t.call("POST", "/rules/views/versions/1/restore", {
      body: { backfill: "notify" },
    });
    // Version 1's counting was registered when it was created: its counters count already.
    expect(restored).toMatchObject({ status: 200, body: { version: 3, backfillOutcome: "alreadyCounting" } });
    const refused = await t.call("POST", "/rules/views/versions/2/restore", { body: { backfill: "loud" } });
    expect(refused).toMatchObject({ status: 400, body: { errors: [{ path: "backfill" }] } });
    const unknown = await t.call("POST", "/rules/views/versions/2/restore", { body: { rule: {} } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain("unknown: rule");
  });

  it("gives a draft's counterKey, which changes with what the rule counts", async () => {
    const t = api();
    const draft = await t.call("POST", "/rules/draft", { body: DRAFT });
    const renamed = await t.call("POST", "/rules/draft", {
      body: { ...DRAFT, action: { type: "attribute", name: "x" } },
    });
    const other = await t.call("POST", "/rules/draft", { body: { ...DRAFT, event: "click" } });
    expect(draft.body.counterKey).toMatch(/^views#/);
    expect(renamed.body.counterKey).toBe(draft.body.counterKey);
    expect(other.body.counterKey).not.toBe(draft.body.counterKey);
  });
});

describe("POST /rules/{id}/disable and /enable", () => {
  it("keeps the rule with enabled: false, then true again, one version each; repeating records nothing", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    const disabled = await t.call("POST", "/rules/views/disable");
    expect(disabled).toMatchObject({ status: 200, body: { version: 2, rule: { ...RULE, enabled: false } } });
    expect((await t.call("POST", "/rules/views/disable")).body.version).toBe(2);
    const enabled = await t.call("POST", "/rules/views/enable", ifMatch(2));
    expect(enabled).toMatchObject({ status: 200, body: { version: 3, rule: RULE } });
    expect(t.versions.get("views")?.map((v) => [v.change, v.before?.enabled, v.after?.enabled])).toEqual([
      ["create", undefined, true],
      ["disable", true, false],
      ["enable", false, true],
    ]);
  });

  it("answers 404 for an unknown rule and 409 for a stale If-Match", async () => {
    const t = api();
    expect((await t.call("POST", "/rules/views/disable")).status).toBe(404);
    await t.call("POST", "/rules", { body: DRAFT });
    expect((await t.call("POST", "/rules/views/disable", ifMatch(7))).status).toBe(409);
    expect(t.rules.get("views")?.rule.enabled).toBe(true);
  });
});

describe("DELETE /rules/{id}", () => {
  it("deletes the rule, keeps its history, and answers 404 afterwards", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    expect(await t.call("DELETE", "/rules/views")).toMatchObject({
      status: 200,
      body: { id: "views", deleted: true, version: 2 },
    });
    expect((await t.call("GET", "/rules/views")).status).toBe(404);
    expect((await t.call("DELETE", "/rules/views")).status).toBe(404);
    const history = await t.call("GET", "/rules/views/versions");
    expect(history.body.versions.at(-1)).toEqual({
      ruleId: "views",
      version: 2,
      change: "delete",
      at: AT,
      by: USER_ARN,
      before: RULE,
    });
  });

  it("deletes only at the expected version when one is given", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    expect((await t.call("DELETE", "/rules/views", ifMatch(3))).status).toBe(409);
    expect(t.rules.has("views")).toBe(true);
  });
});

describe("GET /rules/{id}/versions and POST /rules/{id}/versions/{n}/restore", () => {
  async function edited() {
    const t = api();
    await t.call("POST", "/rules", { body: DRAFT });
    await t.call("PUT", "/rules/views", { body: { ...DRAFT, count: { op: ">", value: 10 } }, ...ifMatch(1) });
    return t;
  }

  it("lists the history oldest first, with who, when, before and after", async () => {
    const t = await edited();
    const history = await t.call("GET", "/rules/views/versions");
    expect(history.status).toBe(200);
    expect(
      history.body.versions.map((v: { version: number; change: string; before?: Rule; after?: Rule }) => [
        v.version,
        v.change,
        v.before?.count?.value,
        v.after?.count?.value,
      ]),
    ).toEqual([
      [1, "create", undefined, 3],
      [2, "update", 3, 10],
    ]);
    expect((await t.call("GET", "/rules/nope/versions")).status).toBe(404);
  });

  it("restores a version as a new one", async () => {
    const t = await edited();
    const restored = await t.call("POST", "/rules/views/versions/1/restore", ifMatch(2));
    expect(restored).toMatchObject({
      status: 200,
      headers: { etag: '"3"' },
      body: { version: 3, rule: RULE },
    });
    expect(t.versions.get("views")?.at(-1)).toMatchObject({
      change: "restore",
      restoredFrom: 1,
      after: RULE,
    });
  });

  it("brings a deleted rule back", async () => {
    const t = await edited();
    await t.call("DELETE", "/rules/views");
    const restored = await t.call("POST", "/rules/views/versions/2/restore", ifMatch(3));
    expect(restored).toMatchObject({ status: 200, body: { version: 4 } });
    expect(t.rules.get("views")?.rule.count).toEqual({ op: ">", value: 10 });
  });

  it("refuses to restore a deletion, an unknown version, a version that is not a number, a stale If-Match", async () => {
    const t = await edited();
    await t.call("DELETE", "/rules/views");
    const deletion = await t.call("POST", "/rules/views/versions/3/restore");
    expect(deletion.status).toBe(400);
    expect(deletion.body.message).toMatch(/deleted it/);
    expect((await t.call("POST", "/rules/views/versions/9/restore")).status).toBe(404);
    expect((await t.call("POST", "/rules/views/versions/abc/restore")).status).toBe(400);
    expect((await t.call("POST", "/rules/views/versions/0/restore")).status).toBe(400);
    expect((await t.call("POST", "/rules/views/versions/1/restore", ifMatch(2))).status).toBe(409);
    expect(t.rules.has("views")).toBe(false);
  });

  it("records nothing when the version's rule is the current one", async () => {
    const t = await edited();
    expect((await t.call("POST", "/rules/views/versions/2/restore")).body.version).toBe(2);
    expect(t.versions.get("views")).toHaveLength(2);
  });
});

describe("routing", () => {
  it("answers 404 to an unknown path and 405 (with Allow) to a wrong method", async () => {
    const t = api();
    const unknown = await t.call("GET", "/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toMatch(/no route GET \/nope/);
    // The list comes from the route table: every route's path, new ones included.
    expect(unknown.body.message).toContain("/rules/{id}/versions/{version}/restore");
    expect(unknown.body.message).toContain("/rules/import");
    const wrong = await t.call("PATCH", "/rules/views");
    expect(wrong).toMatchObject({ status: 405, headers: { allow: "GET, PUT, DELETE" } });
    expect((await t.call("GET", "/rules/views/disable")).status).toBe(405);
  });

  it("serves the API under a named stage", async () => {
    const t = api();
    expect((await t.call("POST", "/rules", { body: DRAFT, stage: "prod" })).status).toBe(201);
    expect((await t.call("GET", "/rules/views", { stage: "prod" })).status).toBe(200);
  });

  it("prefers the literal route: POST /rules/validate validates, GET /rules/validate reads a rule", async () => {
    const t = api();
    expect((await t.call("POST", "/rules/validate", { body: { ...DRAFT, id: "validate" } })).status).toBe(
      200,
    );
    await t.call("POST", "/rules", { body: { ...DRAFT, id: "validate" } });
    expect((await t.call("GET", "/rules/validate")).body.rule.id).toBe("validate");
  });
});

describe("CORS", () => {
  it("echoes only the configured origin", async () => {
    const t = api();
    const allowed = await t.call("GET", "/rules", { headers: { origin: ORIGIN } });
    expect(allowed.headers).toMatchObject({ "access-control-allow-origin": ORIGIN, vary: "origin" });
    const other = await t.call("GET", "/rules", { headers: { origin: "https://evil.example.com" } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    expect(other.headers.vary).toBe("origin");
  });

  it("sends no CORS headers when no origin is configured", async () => {
    const t = api({ allowedOrigins: [] });
    const answer = await t.call("GET", "/rules", { headers: { origin: ORIGIN } });
    expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
    expect(answer.headers.vary).toBeUndefined();
  });

  it("answers a preflight with the path's methods, to the configured origin only", async () => {
    const t = api();
    const preflight = await t.call("OPTIONS", "/rules/views", { headers: { origin: ORIGIN } });
    expect(preflight).toMatchObject({
      status: 204,
      headers: {
        "access-control-allow-origin": ORIGIN,
        "access-control-allow-methods": "GET, PUT, DELETE",
        "access-control-allow-headers": "authorization, content-type, if-match",
      },
    });
    const other = await t.call("OPTIONS", "/rules/views", {
      headers: { origin: "https://evil.example.com" },
    });
    expect(other.status).toBe(204);
    expect(other.headers["access-control-allow-methods"]).toBeUndefined();
  });

  it("adds the CORS headers to errors too", async () => {
    const t = api();
    const missing = await t.call("GET", "/rules/nope", { headers: { origin: ORIGIN } });
    expect(missing.headers["access-control-allow-origin"]).toBe(ORIGIN);
  });
});

describe("who made a change", () => {
  const editor = (claims: Record<string, string>) => ({
    jwt: { claims: { "cognito:groups": "[pia-editors]", ...claims }, scopes: null },
  });
  it.each([
    ["the IAM caller's ARN", undefined, USER_ARN],
    ["a JWT's email", editor({ sub: "sub-1", email: "bob@example.com" }), "bob@example.com"],
    ["an access token's user name", editor({ sub: "sub-1", username: "bob" }), "bob"],
    ["an id token's user name", editor({ sub: "sub-1", "cognito:username": "bob" }), "bob"],
    ["a JWT's subject without email or user name", editor({ sub: "sub-1" }), "sub-1"],
  ])("is %s", async (_, authorizer, by) => {
    const t = authorizer === undefined ? api() : api({ access: { authorizer: "jwt", group: "pia-editors" } });
    const created = await t.call("POST", "/rules", {
      body: DRAFT,
      ...(authorizer === undefined ? {} : { authorizer }),
    });
    expect(created.body.updatedBy).toBe(by);
    expect(t.versions.get("views")?.[0]?.by).toBe(by);
  });
});

describe("who may call the API", () => {
  const JWT = { authorizer: "jwt", group: "pia-editors" } as const;
  const token = (claims: Record<string, unknown>, scopes: string[] | null = null) => ({
    jwt: { claims: { sub: "sub-1", iss: "https://cognito-idp.example", ...claims }, scopes },
  });

  it.each([
    // API Gateway's HTTP API hands a claim's JSON array over flattened into one string.
    [
      "the group, as the HTTP API flattens cognito:groups",
      token({ "cognito:groups": "[other pia-editors]" }),
    ],
    ["the group, alone", token({ "cognito:groups": "[pia-editors]" })],
    ["the group, as an array", token({ "cognito:groups": ["pia-editors"] })],
  ])("lets in a token with %s", async (_, authorizer) => {
    const t = api({ access: JWT });
    expect((await t.call("GET", "/rules", { authorizer })).status).toBe(200);
    expect((await t.call("POST", "/rules", { body: DRAFT, authorizer })).status).toBe(201);
  });

  it.each([
    ["no groups", token({})],
    ["other groups", token({ "cognito:groups": "[pia-editors-old viewers]" })],
    ["the group's name in another claim", token({ "custom:group": "pia-editors" })],
  ])("refuses a valid token with %s: 403, nothing read or written", async (_, authorizer) => {
    const t = api({ access: JWT });
    await t.call("POST", "/rules", { body: DRAFT, authorizer: token({ "cognito:groups": "[pia-editors]" }) });
    for (const [method, path, body] of [
      ["GET", "/rules", undefined],
      ["POST", "/rules/preview", DRAFT],
      ["POST", "/rules/import", { csv: "x" }],
      ["DELETE", "/rules/views", undefined],
    ] as const) {
      const answer = await t.call(method, path, { authorizer, ...(body === undefined ? {} : { body }) });
      expect(answer, `${method} ${path}`).toMatchObject({
        status: 403,
        body: { message: expect.stringContaining("the group pia-editors") },
      });
    }
    expect([...t.rules.keys()]).toEqual(["views"]);
  });

  it("asks for a scope instead of a group when configured so (API Gateway's scopes or the scope claim)", async () => {
    const t = api({ access: { authorizer: "jwt", scope: "pia/rules.write" } });
    expect((await t.call("GET", "/rules", { authorizer: token({}, ["pia/rules.write"]) })).status).toBe(200);
    expect(
      (await t.call("GET", "/rules", { authorizer: token({ scope: "openid pia/rules.write" }) })).status,
    ).toBe(200);
    const refused = await t.call("GET", "/rules", {
      authorizer: token({ "cognito:groups": "[pia-editors]", scope: "openid email" }, ["openid", "email"]),
    });
    expect(refused).toMatchObject({
      status: 403,
      body: { message: expect.stringContaining("pia/rules.write") },
    });
  });

  const IAM = { authorizer: "iam" } as const;
  it.each([
    ["no authorizer context", JWT, undefined],
    ["an IAM caller's context", JWT, { iam: { userArn: USER_ARN } }],
    ["a jwt context without claims", JWT, { jwt: { scopes: null } }],
    ["no authorizer context", IAM, undefined],
    ["a JWT's context", IAM, token({ "cognito:groups": "[pia-editors]" })],
    ["another authorizer's context", IAM, { lambda: { anything: 1 } }],
  ])("answers 401 to a request with %s (API access %j), writing nothing", async (_, access, authorizer) => {
    const t = api({ access });
    const answer = await t.call("POST", "/rules", { body: DRAFT, authorizer });
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBeDefined();
    expect(t.rules.size).toBe(0);
  });

  it("answers a preflight, the editor's files and where to sign in without credentials", async () => {
    const signIn = {
      authorizeUrl: "https://pia.auth.us-east-1.amazoncognito.com/oauth2/authorize",
      tokenUrl: "https://pia.auth.us-east-1.amazoncognito.com/oauth2/token",
      clientId: "pia-editor-client",
      scope: "openid email",
    };
    const t = api({ access: JWT, signIn });
    const none = { authorizer: undefined };
    const preflight = await t.call("OPTIONS", "/rules/views", { ...none, headers: { origin: ORIGIN } });
    expect(preflight).toMatchObject({
      status: 204,
      headers: { "access-control-allow-origin": ORIGIN, "access-control-allow-methods": "GET, PUT, DELETE" },
    });
    expect(await t.call("GET", "/sign-in.json", none)).toMatchObject({ status: 200, body: { signIn } });
    expect((await api().call("GET", "/sign-in.json", none)).body).toEqual({ signIn: null });
  });
});

describe("POST /rules/preview", () => {
  const PREVIEW_MESSAGE =
    "preview needs the events table's byTypeDay index: set EVENTS_TABLE, and deploy ingest with PIA_PREVIEW_INDEX=true";

  function pageview(userId: string, minutesAgo: number): PiaEvent {
    return {
      identity: `id:${userId}-${minutesAgo}`,
      appId: "app-1",
      userId,
      eventType: "pageview",
      timestamp: NOW - minutesAgo * 60_000,
      attributes: {},
      metrics: [],
    };
  }

  /** The API with an index holding these events (today's, whatever day is asked), or none at all. */
  function previewApi(events: PiaEvent[] | undefined, read?: ReadEventsByTypeDay) {
    const asked: string[] = [];
    const index: ReadEventsByTypeDay = async function* (eventType, day) {
      asked.push(`${eventType}#${day}`);
      if (day === "2030-01-02") yield* (events ?? []).filter((e) => e.eventType === eventType);
    };
    const handler = buildRulesApiHandler({
      config: {
        rulesTable: "pia-test-rules",
        access: { authorizer: "iam" },
        allowedOrigins: [ORIGIN],
        previewDays: 7,
      },
      store: fakeStore().store,
      ...(events === undefined && read === undefined ? {} : { readEventsByTypeDay: read ?? index }),
      logger: new Logger({ serviceName: "pia-rules", logLevel: "INFO" }),
      now: () => NOW,
    });
    const call = async (options: EventOptions) => {
      const result = await handler(apiEvent("POST", "/rules/preview", options), context);
      return {
        status: result.statusCode,
        headers: result.headers ?? {},
        body: result.body === undefined ? undefined : JSON.parse(result.body),
      };
    };
    return { call, asked };
  }

  it("answers how many users would qualify today, a sample of them, and what was read", async () => {
    const events = [
      ...[1, 2, 3, 4].map((minutes) => pageview("secret-user-b", minutes)),
      ...[1, 2, 3].map((minutes) => pageview("secret-user-c", minutes)),
      ...[1, 2, 3, 4, 5].map((minutes) => pageview("secret-user-a", minutes)),
      pageview("secret-user-a", -5),
    ];
    const t = previewApi(events);

    const answer = await t.call({ body: DRAFT, headers: { origin: ORIGIN } });

    expect(answer.status).toBe(200);
    expect(answer.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(answer.body).toStrictEqual({
      qualifying: 2,
      sample: [
        { appId: "app-1", userId: "secret-user-a" },
        { appId: "app-1", userId: "secret-user-b" },
      ],
      usersSeen: 3,
      eventsRead: 13,
      from: "2029-12-27",
      to: "2030-01-02",
      truncated: false,
    });
    expect(t.asked).toHaveLength(7);
    // The sample goes to the caller only: the logs have counts, never user ids.
    const logged = output.join("");
    expect(logged).not.toContain("secret-user");
    const lines = output.flatMap((chunk) => chunk.split("\n")).filter((line) => line.trim() !== "");
    expect(lines.map((line) => JSON.parse(line))).toContainEqual(
      expect.objectContaining({
        message: "rule previewed",
        from: "2029-12-27",
        to: "2030-01-02",
        eventsRead: 13,
        truncated: false,
      }),
    );
  });

  it("previews a rolling rule: the users inside its window now, and how many entered", async () => {
    // Today's events only (the fake index): a and b had 2 pageviews within the last hour, c 2 but
    // 90 minutes apart (entered, then left at its first one's expiry), d one.
    const events = [
      pageview("secret-user-a", 10),
      pageview("secret-user-a", 20),
      pageview("secret-user-b", 30),
      pageview("secret-user-b", 59),
      pageview("secret-user-c", 100),
      pageview("secret-user-c", 140),
      pageview("secret-user-d", 5),
    ];
    const t = previewApi(events);
    const answer = await t.call({
      body: { ...DRAFT, count: { op: ">=", value: 2 }, window: { last: "1h" } },
    });
    expect(answer).toMatchObject({
      status: 200,
      body: {
        qualifying: 2,
        entered: 3,
        sample: [
          { appId: "app-1", userId: "secret-user-a" },
          { appId: "app-1", userId: "secret-user-b" },
        ],
        usersSeen: 4,
        eventsRead: 7,
        from: "2029-12-27",
        to: "2030-01-02",
        truncated: false,
      },
    });
  });

  it("answers 409 when the stage has no events table (EVENTS_TABLE unset)", async () => {
    const answer = await previewApi(undefined).call({ body: DRAFT });
    expect(answer).toMatchObject({ status: 409, body: { message: PREVIEW_MESSAGE } });
  });

  it("answers 409 when the events table has no byTypeDay index", async () => {
    const missing: ReadEventsByTypeDay = async function* () {
      yield* [];
      throw new PreviewUnavailableError({ cause: new Error("The table does not have the specified index") });
    };
    const answer = await previewApi(undefined, missing).call({ body: DRAFT });
    expect(answer).toMatchObject({ status: 409, body: { message: PREVIEW_MESSAGE } });
  });

  it("refuses an invalid draft with every error by field, as POST /rules/validate does", async () => {
    const t = previewApi([]);
    const refused = await t.call({
      body: { ...DRAFT, action: { type: "event" }, window: { from: "2030-02-30" } },
    });

    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe("the rule is invalid: fix every error listed");
    expect(refused.body.errors.map((error: { path: string }) => error.path)).toEqual(
      (
        await api().call("POST", "/rules/validate", {
          body: { ...DRAFT, action: { type: "event" }, window: { from: "2030-02-30" } },
        })
      ).body.errors.map((error: { path: string }) => error.path),
    );
    expect(refused.body.errors.length).toBeGreaterThan(1);
    expect(t.asked).toStrictEqual([]);
  });

  it("refuses a request without a JSON body with 400", async () => {
    const t = previewApi([]);
    expect((await t.call({})).status).toBe(400);
    expect((await t.call({ rawBody: "{" })).status).toBe(400);
  });
});

describe("POST /rules/{id}/explain", () => {
  const USER = "secret-user-7";
  const APP = "secret-app";
  const view = (identity: string, minutesAgo: number): PiaEvent => ({
    identity,
    appId: APP,
    userId: USER,
    eventType: "pageview",
    timestamp: NOW - minutesAgo * 60_000,
    attributes: {},
    metrics: [],
  });

  /** The API over a stage reader that holds these events of the user and a counters item, or none. */
  function explainApi(access: RulesApiConfig["access"] = { authorizer: "iam" }, withReader = true) {
    const fake = fakeStore();
    fake.rules.set("views", { rule: RULE, version: 1 });
    const reads: string[] = [];
    const stageReader: StageReader = {
      userEvents: async (appId, userId) => {
        reads.push(`events ${appId} ${userId}`);
        return {
          events: [1, 2, 3, 4, 5].map((minutes) => view(`id-${minutes}`, minutes)),
          unreadable: 0,
          truncated: false,
        };
      },
      storedCounter: async (appId, userId) => {
        reads.push(`counter ${appId} ${userId}`);
        return { pk: `${APP}#${USER}`, sk: "rule", count: 4, sum: "0", fired: true, notified: 1 };
      },
    };
    const handler = buildRulesApiHandler({
      config: { rulesTable: "pia-test-rules", access, allowedOrigins: [ORIGIN] },
      store: fake.store,
      ...(withReader ? { stageReader } : {}),
      logger: new Logger({ serviceName: "pia-rules", logLevel: "INFO" }),
      now: () => NOW,
    });
    const call = async (path: string, options: EventOptions = {}, method = "POST") => {
      const result = await handler(apiEvent(method, path, options), context);
      return {
        status: result.statusCode,
        headers: result.headers ?? {},
        body: result.body === undefined ? undefined : JSON.parse(result.body),
      };
    };
    return { call, reads };
  }

  it("explains the stored rule for the user: the replay, the counted events newest first, the stored state", async () => {
    const t = explainApi();
    const answer = await t.call("/rules/views/explain", { body: { userId: USER, appId: APP, limit: 2 } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      ruleId: "views",
      words: "pageview: count > 3 (lifetime)",
      userId: USER,
      appId: APP,
      now: AT,
      totals: { count: 4, sum: "0" },
      holds: true,
      verdict: "holds now",
      notifications: [{ at: new Date(NOW - 2 * 60_000).toISOString(), name: "views", value: "Ready" }],
      counted: 4,
      events: [
        { identity: "id-2", metric: null },
        { identity: "id-3", metric: null },
      ],
      read: { events: 5, unreadable: 0, truncated: false, maxEvents: 100_000 },
      stored: { count: 4, sum: "0", fired: true, notified: 1 },
    });
    // The counters item's keys are not the answer's.
    expect(JSON.stringify(answer.body.stored)).not.toContain("pk");
    expect(t.reads).toEqual([`events ${APP} ${USER}`, `counter ${APP} ${USER}`]);
  });

  it("logs the request and counts only: never the user, the app or the answer", async () => {
    const t = explainApi();
    await t.call("/rules/views/explain", { body: { userId: USER, appId: APP } });
    await t.call("/rules/views/explain", { body: { userId: USER, appId: APP, limit: 0 } });
    await t.call("/rules/nope/explain", { body: { userId: USER, appId: APP } });
    const logged = output.join("");
    const lines = output.flatMap((chunk) => chunk.split("\n")).filter((line) => line.trim() !== "");
    const entries = lines.map((line) => JSON.parse(line));
    expect(entries.filter((entry) => entry.message === "request").map(({ status }) => status)).toEqual([
      200, 400, 404,
    ]);
    expect(entries.find((entry) => entry.message === "user explained")).toMatchObject({
      eventsRead: 5,
      truncated: false,
      counted: 4,
    });
    for (const secret of [USER, APP, "id-1", "Ready"]) expect(logged).not.toContain(secret);
  });

  it("is behind the caller check like every route: 401 without the authorizer's context, 403 without the group", async () => {
    const t = explainApi({ authorizer: "jwt", group: "pia-editors" });
    const body = { userId: USER, appId: APP };
    const none = await t.call("/rules/views/explain", { body, authorizer: undefined });
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBeDefined();
    const other = await t.call("/rules/views/explain", {
      body,
      authorizer: { jwt: { claims: { sub: "s", "cognito:groups": "[viewers]" }, scopes: null } },
    });
    expect(other).toMatchObject({ status: 403, body: { message: expect.stringContaining("pia-editors") } });
    expect(JSON.stringify([none.body, other.body])).not.toContain(USER);
    expect(t.reads).toEqual([]);
    const member = await t.call("/rules/views/explain", {
      body,
      authorizer: { jwt: { claims: { sub: "s", "cognito:groups": "[pia-editors]" }, scopes: null } },
    });
    expect(member.status).toBe(200);
  });

  it("answers 404 for an unknown rule, 400 for a bad body, 405 to GET, 409 without the stage's tables", async () => {
    const t = explainApi();
    expect((await t.call("/rules/nope/explain", { body: { userId: USER, appId: APP } })).status).toBe(404);
    const bad = await t.call("/rules/views/explain", { body: { user: USER } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).not.toContain(USER);
    expect((await t.call("/rules/views/explain", {}, "GET")).status).toBe(405);
    expect(t.reads).toEqual([]);
    const without = await explainApi(undefined, false).call("/rules/views/explain", {
      body: { userId: USER, appId: APP },
    });
    expect(without).toMatchObject({
      status: 409,
      body: { message: expect.stringContaining("COUNTERS_TABLE") },
    });
  });
});

describe("failures and logs", () => {
  it("answers 500 without internals, and logs the error", async () => {
    const t = api();
    t.hooks.failWith = new Error("connect ECONNREFUSED 10.0.0.1:443 secret-internal-detail");
    const failed = await t.call("GET", "/rules");
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ message: "internal error; request id req-1" });
    expect(output.join("")).toContain("secret-internal-detail");
  });

  it("names invalid stored rules in the 500, which only a fix of the table can cure", async () => {
    const t = api();
    t.hooks.failWith = new InvalidStoredRulesError("rules table t", [
      { severity: "error", ruleId: "broken", message: "the stored rule is not JSON" },
    ]);
    const failed = await t.call("GET", "/rules");
    expect(failed.status).toBe(500);
    expect(failed.body.message).toMatch(/invalid rules: "broken"; fix them with pia rules push/);
  });

  it("logs each request's method, route, status and rule, never the caller, body or headers", async () => {
    const t = api({ access: { authorizer: "jwt", group: "pia-editors" } });
    await t.call("POST", "/rules", {
      body: DRAFT,
      headers: { authorization: "Bearer token-123", origin: ORIGIN },
      authorizer: {
        jwt: {
          claims: { sub: "sub-1", email: "bob@example.com", "cognito:groups": "[pia-editors]" },
          scopes: null,
        },
      },
    });
    await t.call("PUT", "/rules/views", {
      body: DRAFT,
      ...ifMatch(1),
      authorizer: {
        jwt: {
          claims: {
            sub: "sub-1",
            "cognito:username": "alice@example.com",
            "cognito:groups": "[pia-editors]",
          },
          scopes: null,
        },
      },
    });
    const logged = output.join("");
    const lines = output.flatMap((chunk) => chunk.split("\n")).filter((line) => line.trim() !== "");
    const requests = lines.map((line) => JSON.parse(line)).filter((entry) => entry.message === "request");
    expect(requests.map(({ method, route, status, ruleId }) => ({ method, route, status, ruleId }))).toEqual([
      { method: "POST", route: "/rules", status: 201, ruleId: undefined },
      { method: "PUT", route: "/rules/{id}", status: 200, ruleId: "views" },
    ]);
    // API Gateway's request id is each line's correlation id.
    expect(requests.map((entry) => entry.correlation_id)).toEqual(["req-1", "req-1"]);
    for (const secret of [
      "bob@example.com",
      "sub-1",
      "token-123",
      "alice@example.com",
      "203.0.113.9",
      "pageview",
    ]) {
      expect(logged).not.toContain(secret);
    }
  });
});

describe("the editor's files", () => {
  it("serves the page and its assets from EDITOR_DIR before any API route, without credentials", async () => {
    vi.stubEnv("EDITOR_DIR", new URL("../editor", import.meta.url).pathname);
    const handler = buildRulesApiHandler({
      config: { rulesTable: "pia-test-rules", access: { authorizer: "iam" }, allowedOrigins: [] },
      store: fakeStore().store,
      logger: new Logger({ serviceName: "pia-rules", logLevel: "INFO" }),
      now: () => NOW,
    });

    const page = await handler(apiEvent("GET", "/"), context);
    const script = await handler(apiEvent("GET", "/editor.js"), context);

    expect(page).toMatchObject({ statusCode: 200, headers: { "content-type": "text/html; charset=utf-8" } });
    expect(page.body).toContain("<script");
    expect(script).toMatchObject({
      statusCode: 200,
      headers: { "content-type": "text/javascript; charset=utf-8" },
    });
    vi.unstubAllEnvs();
  });
});

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";
const csvOf = (...rows: string[]) => [HEADER, ...rows].join("\n");
const VIEWS_ROW = "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,views";
/** `views` as the 12-column table says it (its action named after the event). */
const AS_ROW = { ...DRAFT, action: { type: "attribute", name: "pageview" } };
const SIGNUP_ROW = "aggregator,signup,na,999,greater,0,na,999,no,9999-99-99,9999-99-99,signups";

describe("the editor's contract: GET /rules/schema and POST /rules/draft", () => {
  it("gives the core's columns, operators and sinks", async () => {
    const { status, body } = await api().call("GET", "/rules/schema");
    expect(status).toBe(200);
    expect(body.columns).toEqual([...HEADER.split(","), "MetricName"]);
    expect(body.operators.map((op: { value: string }) => op.value)).toEqual([">", ">=", "=", "<", "<="]);
    expect(body.sinks).toContain("webhook");
    expect(body.rolling).toEqual({
      min: "1h",
      max: "400d",
      units: [
        { value: "h", text: "hours", max: 9600 },
        { value: "d", text: "days", max: 400 },
      ],
    });
  });

  it.each([
    ["an attribute", {}, "purchase_chair"],
    ["an event", { action: { type: "event" } }, "trk_purchase_chair"],
    ["a date window", { window: { from: "2021-02-28", to: "2021-03-31" } }, "trk_date_purchase_chair"],
    ["a rolling window's", { window: { last: "7d" } }, "purchase_chair_last_7d"],
    [
      "a resetting rolling window's event",
      { window: { last: "36h" }, action: { type: "event" }, reset: true },
      "trk_purchase_chair_last_36h",
    ],
  ])("names %s action as the 12-column table derives it when the form names none", async (_, extra, name) => {
    const draft = { id: "c", event: "purchase", where: { product: "chair" }, count: { op: ">", value: "1" } };
    const { status, body } = await api().call("POST", "/rules/draft", {
      body: { action: { type: "attribute", name: "" }, ...draft, ...extra },
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({ rule: { count: { value: 1 }, action: { name } }, defaultActionName: name });
  });

  it("lists a draft's errors by field, and still suggests the action name", async () => {
    const { status, body } = await api().call("POST", "/rules/draft", {
      body: {
        id: "c",
        event: "purchase",
        count: { op: ">", value: "1" },
        window: { from: "2021-02-29", to: "2021-03-31" },
        action: { type: "attribute" },
      },
    });
    expect(status).toBe(400);
    expect(body.defaultActionName).toBe("trk_date_purchase");
    expect(body.errors).toEqual([
      { path: "window.from", message: expect.stringContaining('"2021-02-29" is not a real calendar date') },
    ]);
  });

  it("refuses the ids that GET /rules/{id} could not reach", async () => {
    const { status, body } = await api().call("POST", "/rules", { body: { ...DRAFT, id: "schema" } });
    expect(status).toBe(400);
    expect(body.errors).toEqual([{ path: "id", message: expect.stringContaining("GET /rules/schema") }]);
  });
});

describe("POST /rules/import and GET /rules/export", () => {
  it("makes the file the whole rule set in one change set, versioned, and says what it did", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    await t.call("POST", "/rules", { body: { ...AS_ROW, id: "gone" } });
    const dry = await t.call("POST", "/rules/import", {
      body: { csv: csvOf(VIEWS_ROW, SIGNUP_ROW), dryRun: true },
    });
    expect(dry).toMatchObject({
      status: 200,
      body: { dryRun: true, created: ["signups"], updated: [], deleted: ["gone"], unchanged: ["views"] },
    });
    expect([...t.rules.keys()].sort()).toEqual(["gone", "views"]);

    const done = await t.call("POST", "/rules/import", { body: { csv: csvOf(VIEWS_ROW, SIGNUP_ROW) } });
    expect(done.body).toEqual({
      dryRun: false,
      created: ["signups"],
      updated: [],
      deleted: ["gone"],
      unchanged: ["views"],
      warnings: [],
    });
    expect([...t.rules.keys()].sort()).toEqual(["signups", "views"]);
    expect(t.versions.get("gone")?.at(-1)).toMatchObject({ change: "delete", by: USER_ARN, at: AT });
    expect(t.versions.get("signups")).toMatchObject([{ version: 1, change: "create", by: USER_ARN }]);
  });

  it("refuses a file with invalid rows as a whole, listing every row's line, column and reason", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    const { status, body } = await t.call("POST", "/rules/import", {
      body: {
        csv: csvOf(
          SIGNUP_ROW,
          "date,purchase,na,999,greater,1,na,999,no,2021-02-29,2021-03-01,leap",
          "aggregator,pageview,na,999,bigger,1,na,999,no,9999-99-99,9999-99-99,typo",
        ),
      },
    });
    expect(status).toBe(400);
    expect(body.errors).toEqual([
      {
        line: 3,
        column: "StartDate",
        ruleId: "leap",
        message: expect.stringContaining("not a real calendar date"),
      },
      { line: 4, column: "Operator-C", ruleId: "typo", message: expect.stringContaining("bigger") },
    ]);
    expect([...t.rules.keys()]).toEqual(["views"]);
  });

  it("refuses a file without rules, which would delete every rule", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    const { status, body } = await t.call("POST", "/rules/import", { body: { csv: `${HEADER}\n` } });
    expect(status).toBe(400);
    expect(body.message).toContain("no rule rows");
    expect([...t.rules.keys()]).toEqual(["views"]);
  });

  it("writes nothing when a rule changed while the import was written (409)", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    t.hooks.beforeWrite = () =>
      t.sneak({ ...RULE, action: { ...RULE.action, name: "pageview" }, count: { op: ">", value: 9 } });
    const { status, body } = await t.call("POST", "/rules/import", { body: { csv: csvOf(SIGNUP_ROW) } });
    expect(status).toBe(409);
    expect(body.message).toContain("nothing was imported");
    expect(t.rules.has("signups")).toBe(false);
  });

  it("answers 400 to a body that is not { csv }", async () => {
    const { status, body } = await api().call("POST", "/rules/import", { body: { file: "x" } });
    expect(status).toBe(400);
    expect(body.message).toContain('{ "csv"');
  });

  it("exports the rules as the 12-column table, naming the ones it cannot say", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    await t.call("POST", "/rules", { body: { ...AS_ROW, id: "atleast", count: { op: ">=", value: 3 } } });
    const { status, body } = await t.call("GET", "/rules/export");
    expect(status).toBe(200);
    expect(body.csv.split("\r\n")).toEqual([
      `${HEADER},MetricName`,
      "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,views,na",
      "",
    ]);
    expect(body.leftOut).toEqual([{ id: "atleast", reason: expect.stringContaining(">=") }]);
  });

  it("leaves a rolling rule out of the export and names it, with the reason", async () => {
    const t = api();
    await t.call("POST", "/rules", { body: AS_ROW });
    await t.call("POST", "/rules", {
      body: {
        ...AS_ROW,
        id: "active",
        window: { last: "7d" },
        action: { type: "attribute", name: "active" },
      },
    });
    const { status, body } = await t.call("GET", "/rules/export");
    expect(status).toBe(200);
    expect(body.csv.split("\r\n")).toEqual([
      `${HEADER},MetricName`,
      "aggregator,pageview,na,999,greater,3,na,999,no,9999-99-99,9999-99-99,views,na",
      "",
    ]);
    expect(body.leftOut).toEqual([
      { id: "active", reason: "it has a rolling window (last 7d), which the table has no column for" },
    ]);
  });

  it("exports a name a spreadsheet would run as a formula as text, and imports it back unchanged", async () => {
    const t = api();
    const formula = "=HYPERLINK(A1)";
    await t.call("POST", "/rules", {
      body: { ...AS_ROW, id: "@sum", event: formula, action: { ...AS_ROW.action, name: formula } },
    });
    const exported = await t.call("GET", "/rules/export");
    expect(exported.body.csv.split("\r\n")[1]).toBe(
      `aggregator,'${formula},na,999,greater,3,na,999,no,9999-99-99,9999-99-99,'@sum,na`,
    );
    const imported = await t.call("POST", "/rules/import", { body: { csv: exported.body.csv } });
    expect(imported.body).toMatchObject({ created: [], updated: [], deleted: [], unchanged: ["@sum"] });
  });
});
