import type {
  HoneycodeRows,
  HoneycodeRowsPage,
  HoneycodeTable,
  PushResult,
  RulesTableTarget,
} from "@pia/aws";
import type { Rule } from "@pia/core";
import { describe, expect, it } from "vitest";
import type { RulesStore } from "../src/rulesCommands.js";
import { runCli } from "../src/runCli.js";
import { capture } from "./capture.js";

/** A rules table in memory that records every open and push. */
class FakeStore implements RulesStore {
  readonly targets: RulesTableTarget[] = [];
  readonly pushed: (readonly Rule[])[] = [];
  readonly backfills = { list: async () => [] };
  open = async (target: RulesTableTarget): Promise<RulesStore> => {
    this.targets.push(target);
    return this;
  };
  async put(rules: readonly Rule[]): Promise<PushResult> {
    this.pushed.push(rules);
    return { written: rules.length, deleted: 0, unchanged: 0 };
  }
  async list(): Promise<Rule[]> {
    return [];
  }
  async remove(): Promise<boolean> {
    return false;
  }
}

/** A Honeycode table in memory, two rows a page, or failing with `failure`; records regions and requests. */
class FakeHoneycode implements HoneycodeRows {
  readonly regions: string[] = [];
  readonly requests: (HoneycodeTable & { readonly nextToken?: string })[] = [];
  failure: unknown;
  constructor(readonly rows: readonly (readonly string[])[]) {}
  open = async (region: string): Promise<HoneycodeRows> => {
    this.regions.push(region);
    return this;
  };
  async listRows(input: HoneycodeTable & { readonly nextToken?: string }): Promise<HoneycodeRowsPage> {
    this.requests.push(input);
    if (this.failure !== undefined) throw this.failure;
    const start = input.nextToken === undefined ? 0 : Number(input.nextToken);
    const end = start + 2;
    return {
      rows: this.rows.slice(start, end).map((cells, index) => ({
        rowId: `row:t/${start + index + 1}`,
        cells: cells.map((value) => ({ rawValue: value, formattedValue: value })),
      })),
      ...(end < this.rows.length ? { nextToken: String(end) } : {}),
    };
  }
}

async function pia(store: FakeStore, honeycode: FakeHoneycode, argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(
    argv,
    { stdout: stdout.stream, stderr: stderr.stream, now: () => Date.UTC(2030, 0, 1) },
    { openRulesStore: store.open, openHoneycodeRows: honeycode.open, env: {} },
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const ROWS = [
  [
    "aggregator",
    "pageview",
    "na",
    "999",
    "greater",
    "3",
    "na",
    "999",
    "no",
    "9999-99-99",
    "9999-99-99",
    "views",
  ],
  [
    "date",
    "purchase",
    "product",
    "chair",
    "na",
    "999",
    "greater",
    "180",
    "yes",
    "2021-01-01",
    "2021-01-31",
    "chairs",
  ],
  ["aggregator", "lesson", "na", "999", "equal", "5", "na", "999", "yes", "", "", ""],
];
const IMPORT = ["rules", "import", "--honeycode", "--workbook", "wb-1", "--honeycode-table", "tb-1"];

describe("pia rules import --honeycode", () => {
  it("writes every row's rule to the rules table, as push does", async () => {
    const store = new FakeStore();
    const honeycode = new FakeHoneycode(ROWS);
    const result = await pia(store, honeycode, [...IMPORT, "--stage", "dev"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe("written 3, deleted 0, unchanged 0\n");
    expect(result.stderr).toBe(
      "Honeycode table tb-1 (workbook wb-1): warning: ResetWhenReachTarget: row 2 (Honeycode row id row:t/2): yes is ignored on a date rule (only aggregator rules reset); a date rule notifies once per user\n",
    );
    expect(honeycode.regions).toEqual(["us-west-2"]);
    expect(honeycode.requests).toEqual([
      { workbookId: "wb-1", tableId: "tb-1" },
      { workbookId: "wb-1", tableId: "tb-1", nextToken: "2" },
    ]);
    expect(store.targets).toEqual([{ tableName: "pia-dev-rules", region: "us-east-1" }]);
    expect(store.pushed.map((rules) => rules.map((rule) => rule.id))).toEqual([
      ["views", "chairs", "aggregatorlesson"],
    ]);
  });

  it("--dry-run prints the rules and never opens the rules table", async () => {
    const store = new FakeStore();
    const result = await pia(store, new FakeHoneycode(ROWS), [...IMPORT, "--table", "my-rules", "--dry-run"]);

    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "ID                EVENT                     CONDITION                WINDOW                  ACTION",
      "views             pageview                  count > 3                lifetime                attribute pageview=Ready",
      "chairs            purchase (product=chair)  sum(first metric) > 180  2021-01-01..2021-01-31  attribute trk_date_purchase_chair=Ready",
      "aggregatorlesson  lesson                    count = 5                lifetime, reset         event trk_lesson",
      "dry run: these 3 rules would become the rule set of table my-rules (rules not listed would be deleted); nothing written",
      "",
    ]);
    expect(result.stderr).toMatch(/warning: ResetWhenReachTarget: row 2/);
    expect(store.targets).toEqual([]);
    expect(store.pushed).toEqual([]);
  });

  it("passes --honeycode-region to the client", async () => {
    const honeycode = new FakeHoneycode(ROWS);
    const result = await pia(new FakeStore(), honeycode, [
      ...IMPORT,
      "--table",
      "t",
      "--honeycode-region",
      "eu-west-1",
      "--region",
      "ap-south-1",
    ]);
    expect(result.code).toBe(0);
    expect(honeycode.regions).toEqual(["eu-west-1"]);
  });

  it("exits 2 naming every bad row and field, and writes nothing", async () => {
    const store = new FakeStore();
    const bad = [...ROWS, ROWS[0]?.with(5, "three") ?? [], ROWS[0]?.with(4, "bigger") ?? []];
    const result = await pia(store, new FakeHoneycode(bad), [...IMPORT, "--table", "t"]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(/^Honeycode table tb-1 \(workbook wb-1\): 2 invalid entries/);
    expect(result.stderr).toContain(
      'error: Target-C: row 4 (Honeycode row id row:t/4): "three" is not a whole number',
    );
    expect(result.stderr).toContain(
      'error: Operator-C: row 5 (Honeycode row id row:t/5): unknown operator "bigger"',
    );
    expect(store.targets).toEqual([]);
  });

  it("exits 2 on a table without rules, which would otherwise delete every rule", async () => {
    const store = new FakeStore();
    const result = await pia(store, new FakeHoneycode([]), [...IMPORT, "--table", "t"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no rule rows");
    expect(store.targets).toEqual([]);
  });

  it("exits 1 with what to do when Honeycode cannot be read", async () => {
    const store = new FakeStore();
    const honeycode = new FakeHoneycode(ROWS);
    honeycode.failure = Object.assign(new Error("getaddrinfo ENOTFOUND honeycode.us-west-2.amazonaws.com"), {
      code: "ENOTFOUND",
    });
    const result = await pia(store, honeycode, [...IMPORT, "--table", "t"]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      "pia: ENOTFOUND: cannot reach Honeycode (getaddrinfo ENOTFOUND honeycode.us-west-2.amazonaws.com); check the network, or AWS_ENDPOINT_URL_HONEYCODE. Honeycode was discontinued on 2024-02-29: export the table to CSV (or use a copy you kept) and load it with pia rules push FILE\n",
    );
    expect(store.targets).toEqual([]);
  });

  it.each<[string, string[], RegExp]>([
    [
      "no --honeycode",
      ["rules", "import", "--workbook", "w", "--honeycode-table", "t", "--table", "r"],
      /--honeycode/,
    ],
    [
      "no --workbook",
      ["rules", "import", "--honeycode", "--honeycode-table", "t", "--table", "r"],
      /--workbook/,
    ],
    [
      "no Honeycode table",
      ["rules", "import", "--honeycode", "--workbook", "w", "--table", "r"],
      /--honeycode-table/,
    ],
    ["no rules table", [...IMPORT], /which rules table\?/],
    [
      "--table with --stage",
      [...IMPORT, "--table", "r", "--stage", "dev"],
      /cannot be used with option '--stage/,
    ],
  ])("exits 2 on %s, reading nothing", async (_case, argv, message) => {
    const store = new FakeStore();
    const honeycode = new FakeHoneycode(ROWS);
    const result = await pia(store, honeycode, argv);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(honeycode.requests).toEqual([]);
    expect(store.targets).toEqual([]);
  });
});
