import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackfillJob, PushResult, PutOptions, RulesTableTarget } from "@pia/aws";
import { InvalidStoredRulesError, NO_PROGRESS, RulesTableWriteError } from "@pia/aws";
import type { Rule } from "@pia/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RulesStore } from "../src/rulesCommands.js";
import { type CliDeps, runCli } from "../src/runCli.js";
import { capture } from "./capture.js";

/** A store in memory that records what the commands asked of it, or fails with `failure`. */
class FakeStore implements RulesStore {
  readonly targets: RulesTableTarget[] = [];
  readonly pushed: (readonly Rule[])[] = [];
  readonly options: PutOptions[] = [];
  readonly removed: string[] = [];
  jobs: BackfillJob[] = [];
  readonly backfills = {
    list: async (): Promise<BackfillJob[]> => {
      this.#fail();
      return this.jobs;
    },
  };
  failure: unknown;
  constructor(
    public rules: Rule[] = [],
    readonly result: PushResult = { written: 2, deleted: 1, unchanged: 0 },
  ) {}
  open = async (target: RulesTableTarget): Promise<RulesStore> => {
    this.targets.push(target);
    return this;
  };
  #fail(): void {
    if (this.failure !== undefined) throw this.failure;
  }
  async put(rules: readonly Rule[], options: PutOptions = {}): Promise<PushResult> {
    this.#fail();
    this.pushed.push(rules);
    this.options.push(options);
    return this.result;
  }
  async list(): Promise<Rule[]> {
    this.#fail();
    return this.rules;
  }
  async remove(id: string): Promise<boolean> {
    this.#fail();
    this.removed.push(id);
    const before = this.rules.length;
    this.rules = this.rules.filter((rule) => rule.id !== id);
    return this.rules.length < before;
  }
}

async function pia(store: FakeStore, argv: string[], env: CliDeps["env"] = {}) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(
    argv,
    { stdout: stdout.stream, stderr: stderr.stream, now: () => Date.UTC(2030, 0, 1) },
    { openRulesStore: store.open, env },
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const HEADER =
  "RuleType,EventName,AttributeName,AttributeValue,Operator-C,Target-C,Operator-V,Target-V,ResetWhenReachTarget,StartDate,FinishDate,Key";
const RULES_CSV = [
  HEADER,
  "aggregator,pageview,na,999,greater,1,na,999,no,9999-99-99,9999-99-99,aggregatorpageview",
  "date,purchase,product,chair,na,999,smaller,100,no,2021-01-01,2021-01-31,cheap-chairs",
].join("\n");

const BIG_SPENDER: Rule = {
  id: "big-spender",
  event: "purchase",
  where: { product: "table", colour: "red" },
  count: { op: ">", value: 3 },
  sum: { metric: "price", op: ">=", value: "180.5" },
  window: { from: "2021-01-01", to: "2021-01-31" },
  action: { type: "attribute", name: "big_spender", value: "Ready" },
  reset: false,
  enabled: true,
};
const REPEATER: Rule = {
  id: "repeat-viewer",
  event: "page view",
  sum: { op: ">", value: "-2.50" },
  action: { type: "event", name: "trk_views" },
  reset: true,
  enabled: false,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pia-rules-"));
  await writeFile(join(dir, "rules.csv"), RULES_CSV);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("pia rules push", () => {
  it("pushes the validated rules of the file and prints what changed", async () => {
    const store = new FakeStore();
    const result = await pia(store, ["rules", "push", join(dir, "rules.csv"), "--table", "my-rules"]);

    expect(result).toEqual({ code: 0, stdout: "written 2, deleted 1, unchanged 0\n", stderr: "" });
    expect(store.targets).toEqual([{ tableName: "my-rules", region: "us-east-1" }]);
    expect(store.pushed.map((rules) => rules.map((rule) => rule.id))).toEqual([
      ["aggregatorpageview", "cheap-chairs"],
    ]);
  });

  it("exits 2 listing every error of an invalid file, and never opens the table", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(
      bad,
      `${RULES_CSV}\ndate,purchase,na,999,na,1,na,1,no,2021-02-29,2021-03-01,x\naggregator,view,na,999,smaller,3,na,999,no,,,y\n`,
    );
    const store = new FakeStore();
    const result = await pia(store, ["rules", "push", bad, "--table", "my-rules"]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/line 4.*2021-02-29/);
    expect(result.stderr).toMatch(/line 5.*Operator-C/);
    expect(store.targets).toEqual([]);
    expect(store.pushed).toEqual([]);
  });

  it("pushes a rolling window, which the pipeline runs", async () => {
    const rolling = join(dir, "rolling.yaml");
    await writeFile(
      rolling,
      'rules:\n  - { id: lapsed, event: lesson, count: { op: "=", value: 0 }, window: { last: 14d }, action: { type: attribute, name: lapsed } }\n',
    );
    const store = new FakeStore();
    const result = await pia(store, ["rules", "push", rolling, "--table", "t"]);

    expect(result.code, result.stderr).toBe(0);
    expect(store.pushed.map((rules) => rules.map((rule) => [rule.id, rule.window]))).toEqual([
      [["lapsed", { last: "14d" }]],
    ]);
  });

  it("prints the warnings of a valid file and pushes it", async () => {
    const warned = join(dir, "warned.csv");
    await writeFile(warned, `${HEADER}\ndate,purchase,na,999,greater,1,na,999,yes,2021-01-01,2021-01-31,w\n`);
    const store = new FakeStore();
    const result = await pia(store, ["rules", "push", warned, "--table", "t"]);

    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/warning: ResetWhenReachTarget/);
    expect(store.pushed).toHaveLength(1);
  });
});

describe("pia rules push --backfill", () => {
  const outcomes: PushResult = {
    written: 3,
    deleted: 0,
    unchanged: 0,
    backfill: {
      requested: ["cheap-chairs"],
      alreadyCounting: ["aggregatorpageview"],
      notSupported: ["lapsed"],
    },
  };

  it.each<[string[], "notify" | "silent"]>([
    [["--backfill"], "notify"],
    [["--backfill", "silent"], "silent"],
    [["--backfill=silent"], "silent"],
    [["--backfill=notify"], "notify"],
  ])("asks the table to backfill (%j: %s) and prints each rule's outcome", async (flags, mode) => {
    const store = new FakeStore([], outcomes);
    const result = await pia(store, ["rules", "push", join(dir, "rules.csv"), "--table", "t", ...flags]);

    expect(result.code, result.stderr).toBe(0);
    expect(store.options).toEqual([{ backfill: { mode } }]);
    expect(result.stdout).toBe(
      [
        "written 3, deleted 0, unchanged 0",
        "backfill cheap-chairs: requested (pia rules status shows its progress)",
        "backfill aggregatorpageview: already counting: nothing to backfill",
        "backfill lapsed: rolling windows are not backfilled",
        "",
      ].join("\n"),
    );
  });

  it("does not backfill without the flag, and refuses an unknown mode before opening the table", async () => {
    const store = new FakeStore();
    await pia(store, ["rules", "push", join(dir, "rules.csv"), "--table", "t"]);
    expect(store.options).toEqual([{}]);

    const refused = new FakeStore();
    const result = await pia(refused, [
      "rules",
      "push",
      join(dir, "rules.csv"),
      "--table",
      "t",
      "--backfill=loud",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--backfill.*loud.*notify, silent/);
    expect(refused.targets).toEqual([]);
  });
});

describe("pia rules status", () => {
  const job = (extra: Partial<BackfillJob>): BackfillJob => ({
    counterKey: "k",
    ruleId: "r",
    mode: "notify",
    requestedAt: Date.parse("2030-01-01T10:00:00Z"),
    state: "requested",
    progress: NO_PROGRESS,
    updatedAt: Date.parse("2030-01-01T10:00:00Z"),
    rev: 1,
    ...extra,
  });

  it("prints one line per backfill job, oldest request first, with its progress", async () => {
    const store = new FakeStore();
    store.jobs = [
      job({
        counterKey: "big#1",
        ruleId: "big-spender",
        mode: "silent",
        state: "discovering",
        requestedAt: Date.parse("2030-01-01T11:00:00Z"),
        boundary: Date.parse("2030-01-01T11:02:00Z"),
        settledAt: Date.parse("2030-01-01T11:04:00Z"),
        progress: { days: 3, daysTotal: 31, merged: 120, eventsRead: 4567, notifications: 0 },
      }),
      job({
        ruleId: "buyer",
        state: "done",
        boundary: Date.parse("2030-01-01T10:02:00Z"),
        settledAt: Date.parse("2030-01-01T10:04:00Z"),
        finishedAt: Date.parse("2030-01-01T10:30:00Z"),
        progress: { days: 2, daysTotal: 2, merged: 5, eventsRead: 50, notifications: 4 },
      }),
      job({ ruleId: "fresh", requestedAt: Date.parse("2030-01-01T12:00:00Z") }),
    ];
    const result = await pia(store, ["rules", "status", "--stage", "prod", "--region", "eu-west-1"]);

    expect(result.code, result.stderr).toBe(0);
    expect(store.targets).toEqual([{ tableName: "pia-prod-rules", region: "eu-west-1" }]);
    expect(result.stdout.split("\n")).toEqual([
      "buyer  done  notify  boundary 2030-01-01T10:02:00.000Z  settledAt 2030-01-01T10:04:00.000Z  days 2/2  users 5  events 50  notifications 4  requested 2030-01-01T10:00:00.000Z  finished 2030-01-01T10:30:00.000Z",
      "big-spender  discovering  silent  boundary 2030-01-01T11:02:00.000Z  settledAt 2030-01-01T11:04:00.000Z  days 3/31  users 120  events 4567  notifications 0  requested 2030-01-01T11:00:00.000Z  finished -",
      "fresh  requested  notify  boundary -  settledAt -  days 0/0  users 0  events 0  notifications 0  requested 2030-01-01T12:00:00.000Z  finished -",
      "",
    ]);
  });

  it("says so on stderr when there is no backfill, and needs a table like push", async () => {
    const store = new FakeStore();
    expect(await pia(store, ["rules", "status", "--table", "t"])).toEqual({
      code: 0,
      stdout: "",
      stderr: "no backfills in table t\n",
    });
    const missing = await pia(new FakeStore(), ["rules", "status"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/which rules table/);
  });
});

describe("choosing the table", () => {
  it.each<[string, string[], Record<string, string>, RulesTableTarget]>([
    ["--table", ["--table", "t1"], {}, { tableName: "t1", region: "us-east-1" }],
    ["PIA_RULES_TABLE", [], { PIA_RULES_TABLE: "from-env" }, { tableName: "from-env", region: "us-east-1" }],
    ["--stage", ["--stage", "dev"], {}, { tableName: "pia-dev-rules", region: "us-east-1" }],
    [
      "--stage over PIA_RULES_TABLE",
      ["--stage", "prod"],
      { PIA_RULES_TABLE: "from-env" },
      { tableName: "pia-prod-rules", region: "us-east-1" },
    ],
    [
      "--table over PIA_RULES_TABLE",
      ["--table", "t1"],
      { PIA_RULES_TABLE: "from-env" },
      { tableName: "t1", region: "us-east-1" },
    ],
    ["AWS_REGION", ["--table", "t1"], { AWS_REGION: "eu-west-1" }, { tableName: "t1", region: "eu-west-1" }],
    [
      "--region over AWS_REGION",
      ["--table", "t1", "--region", "ap-south-1"],
      { AWS_REGION: "eu-west-1" },
      { tableName: "t1", region: "ap-south-1" },
    ],
    [
      "--endpoint",
      ["--table", "t1", "--endpoint", "http://localhost:8000"],
      { AWS_ENDPOINT_URL_DYNAMODB: "http://elsewhere:1" },
      { tableName: "t1", region: "us-east-1", endpoint: "http://localhost:8000" },
    ],
  ])("%s", async (_case, flags, env, target) => {
    const store = new FakeStore([BIG_SPENDER]);
    const result = await pia(store, ["rules", "list", ...flags], env);
    expect(result.code).toBe(0);
    expect(store.targets).toEqual([target]);
  });

  it.each<[string, string[], Record<string, string>, RegExp]>([
    ["no table at all", [], {}, /which rules table\? pass --table NAME or --stage STAGE.*PIA_RULES_TABLE/],
    ["an empty PIA_RULES_TABLE", [], { PIA_RULES_TABLE: "" }, /which rules table\?/],
    ["--table with --stage", ["--table", "t", "--stage", "dev"], {}, /cannot be used with option '--stage/],
    ["a stage that cannot name a table", ["--stage", "a b"], {}, /--stage "a b": use letters, digits/],
    ["an endpoint that is not a URL", ["--table", "t", "--endpoint", "localhost"], {}, /is not a URL/],
  ])("exits 2 on %s, without opening a table", async (_case, flags, env, message) => {
    const store = new FakeStore();
    for (const command of [["list"], ["rm", "x"], ["push", join(dir, "rules.csv")]]) {
      const result = await pia(store, ["rules", ...command, ...flags], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    }
    expect(store.targets).toEqual([]);
  });
});

describe("pia rules list", () => {
  it("prints one aligned row per rule: id, event and filter, condition, window, action", async () => {
    const store = new FakeStore([BIG_SPENDER, REPEATER]);
    const result = await pia(store, ["rules", "list", "--table", "t"]);

    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "ID             EVENT                                 CONDITION                          WINDOW                  ACTION",
      "big-spender    purchase (product=table, colour=red)  count > 3 and sum(price) >= 180.5  2021-01-01..2021-01-31  attribute big_spender=Ready",
      "repeat-viewer  page view                             sum(first metric) > -2.50          lifetime, reset         event trk_views (disabled)",
      "",
    ]);
  });

  it("prints canonical rules with --json, which push accepts back unchanged", async () => {
    const store = new FakeStore([BIG_SPENDER, REPEATER]);
    const listed = await pia(store, ["rules", "list", "--json", "--table", "t"]);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([BIG_SPENDER, REPEATER]);

    const file = join(dir, "listed.json");
    await writeFile(file, listed.stdout);
    const pushed = await pia(store, ["rules", "push", file, "--table", "t"]);
    expect(pushed.code).toBe(0);
    expect(store.pushed).toEqual([[BIG_SPENDER, REPEATER]]);
  });

  it("says so on stderr when the table has no rules", async () => {
    const result = await pia(new FakeStore([]), ["rules", "list", "--table", "t"]);
    expect(result).toEqual({ code: 0, stdout: "", stderr: "no rules in table t\n" });
    const json = await pia(new FakeStore([]), ["rules", "list", "--json", "--table", "t"]);
    expect(json).toEqual({ code: 0, stdout: "[]\n", stderr: "" });
  });

  it("exits 1 naming the corrupted rule when a stored rule is invalid", async () => {
    const store = new FakeStore();
    store.failure = new InvalidStoredRulesError("rules table t", [
      { severity: "error", ruleId: "broken", message: "the stored rule is not JSON" },
    ]);
    const result = await pia(store, ["rules", "list", "--table", "t"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('rule "broken": the stored rule is not JSON');
  });
});

describe("pia rules rm", () => {
  it("removes an existing rule", async () => {
    const store = new FakeStore([BIG_SPENDER]);
    const result = await pia(store, ["rules", "rm", "big-spender", "--table", "t"]);
    expect(result).toEqual({ code: 0, stdout: 'removed rule "big-spender" from t\n', stderr: "" });
    expect(store.removed).toEqual(["big-spender"]);
  });

  it("exits 1 with a clear message when there is no such id", async () => {
    const store = new FakeStore([BIG_SPENDER]);
    const result = await pia(store, ["rules", "rm", "big-spendr", "--table", "t", "--region", "eu-west-1"]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      'pia: no rule "big-spendr" in table t (region eu-west-1); nothing removed. The ids are listed by: pia rules list --table t\n',
    );
  });
});

describe("AWS errors", () => {
  const named = (name: string, message = "from AWS") => Object.assign(new Error(message), { name });

  it.each<[string, unknown, string]>([
    [
      "a missing table",
      named("ResourceNotFoundException", "Requested resource not found"),
      "pia: ResourceNotFoundException: table pia-dev-rules not found in region eu-west-1; deploy the stack or pass --table (or --stage, --region)\n",
    ],
    [
      "no credentials",
      named("CredentialsProviderError", "Could not load credentials from any providers"),
      "pia: CredentialsProviderError: no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values do for a local endpoint)\n",
    ],
    [
      "refused credentials",
      named("UnrecognizedClientException"),
      "pia: UnrecognizedClientException: the credentials were refused in region eu-west-1; refresh them (e.g. aws sso login) or check AWS_PROFILE\n",
    ],
    [
      "missing permissions",
      named("AccessDeniedException"),
      "pia: AccessDeniedException: access to table pia-dev-rules denied; the credentials need dynamodb:Query, dynamodb:BatchWriteItem and dynamodb:DeleteItem on it\n",
    ],
    [
      "throttling",
      new RulesTableWriteError("pia-dev-rules", 3, 8),
      "pia: RulesTableWriteError: DynamoDB is throttling table pia-dev-rules; run the command again in a moment (a push only writes what differs)\n",
    ],
    [
      "an unreachable endpoint",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8000"), { code: "ECONNREFUSED" }),
      "pia: ECONNREFUSED: cannot reach DynamoDB in region eu-west-1; check the network, --endpoint, or AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL\n",
    ],
    [
      "anything else",
      named("ValidationException", "1 validation error detected"),
      "pia: ValidationException: 1 validation error detected (table pia-dev-rules, region eu-west-1)\n",
    ],
  ])("exit 1 with the error name and a hint on %s", async (_case, error, expected) => {
    for (const command of [["list"], ["rm", "x"], ["push", join(dir, "rules.csv")]]) {
      const store = new FakeStore();
      store.failure = error;
      const result = await pia(store, ["rules", ...command, "--stage", "dev"], { AWS_REGION: "eu-west-1" });
      expect(result).toEqual({ code: 1, stdout: "", stderr: expected });
    }
  });

  it("names the endpoint the SDK takes from the environment", async () => {
    const store = new FakeStore();
    store.failure = named("ResourceNotFoundException");
    const result = await pia(store, ["rules", "list", "--table", "t"], {
      AWS_ENDPOINT_URL_DYNAMODB: "http://localhost:8000",
    });
    expect(result.stderr).toContain("table t not found in region us-east-1 at http://localhost:8000");
  });
});
