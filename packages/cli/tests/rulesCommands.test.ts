import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PushResult, RulesTableTarget } from "@pia/aws";
import { InvalidStoredRulesError, RulesTableWriteError } from "@pia/aws";
import type { Rule } from "@pia/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RulesStore } from "../src/rulesCommands.js";
import { type CliDeps, runCli } from "../src/runCli.js";
import { capture } from "./capture.js";

/** A store in memory that records what the commands asked of it, or fails with `failure`. */
class FakeStore implements RulesStore {
  readonly targets: RulesTableTarget[] = [];
  readonly pushed: (readonly Rule[])[] = [];
  readonly removed: string[] = [];
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
  async put(rules: readonly Rule[]): Promise<PushResult> {
    this.#fail();
    this.pushed.push(rules);
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
