import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Cell, ListTableRowsResult, TableRow } from "@aws-sdk/client-honeycode";
import { HoneycodeClient } from "@aws-sdk/client-honeycode";
import { CSV_COLUMNS, InvalidRulesError, type LoadedRules, parseRulesCsv, type RuleIssue } from "@pia/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  buildHoneycodeRows,
  HoneycodeReadError,
  type HoneycodeRows,
  type HoneycodeTable,
  loadHoneycodeRules,
  openHoneycodeRows,
} from "../src/honeycodeRuleSource.js";

const WORKBOOK = "5c5e1d1a-0b1e-4f7e-9c3a-2d6f0e8b9a11";
const TABLE = "8e0f2c3d-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const TARGET: HoneycodeTable = { workbookId: WORKBOOK, tableId: TABLE };
const SOURCE = `Honeycode table ${TABLE} (workbook ${WORKBOOK})`;
const COLUMNS = CSV_COLUMNS;

const rowId = (n: number) => `row:${TABLE}/${String(n).padStart(8, "0")}-0000-4000-8000-000000000000`;

/** A text cell as the API returns it: TEXT format, the same raw and formatted value. */
const text = (value: string): Cell => ({ format: "TEXT", rawValue: value, formattedValue: value });

function tableRow(n: number, cells: readonly (string | Cell)[]): TableRow {
  return { rowId: rowId(n), cells: cells.map((cell) => (typeof cell === "string" ? text(cell) : cell)) };
}

const aggregatorCells = (i: number) => [
  "aggregator",
  `event${i}`,
  "na",
  "999",
  "greater",
  String(i),
  "na",
  "999",
  "no",
  "9999-99-99",
  "9999-99-99",
  `rule${i}`,
];

/** ListTableRows results of `rows`, `pageSize` rows per page, with tokens `t1`, `t2`... */
function pagesOf(rows: readonly TableRow[], pageSize = 100): ListTableRowsResult[] {
  const pages: ListTableRowsResult[] = [];
  for (let start = 0; start === 0 || start < rows.length; start += pageSize) {
    const next = start + pageSize < rows.length ? `t${pages.length + 1}` : undefined;
    pages.push({
      columnIds: COLUMNS.map((_, index) => `col-${index}`),
      rows: rows.slice(start, start + pageSize),
      workbookCursor: 42,
      ...(next === undefined ? {} : { nextToken: next }),
    });
  }
  return pages;
}

/** Serves `pages` by token (no token: the first), recording every request; `failure` is thrown instead. */
class FakeHoneycode implements HoneycodeRows {
  readonly requests: { workbookId: string; tableId: string; nextToken?: string }[] = [];
  failure: { error: unknown; onRequest: number } | undefined;
  constructor(readonly pages: readonly ListTableRowsResult[]) {}
  async listRows(input: HoneycodeTable & { readonly nextToken?: string }) {
    this.requests.push({ ...input });
    if (this.failure !== undefined && this.requests.length === this.failure.onRequest)
      throw this.failure.error;
    const index = input.nextToken === undefined ? 0 : Number(input.nextToken.slice(1));
    const page = this.pages[index];
    if (page === undefined) throw new Error(`no page for token ${input.nextToken}`);
    return page;
  }
}

async function issuesOf(load: Promise<LoadedRules>): Promise<readonly RuleIssue[]> {
  try {
    await load;
  } catch (error) {
    if (error instanceof InvalidRulesError) return error.issues;
    throw error;
  }
  throw new Error("expected the rules to be refused");
}

describe("loadHoneycodeRules: paging", () => {
  it("reads every page: 250 rows over 3 pages, beyond the old 99-row limit", async () => {
    const rows = Array.from({ length: 250 }, (_, i) => tableRow(i + 1, aggregatorCells(i + 1)));
    const honeycode = new FakeHoneycode(pagesOf(rows));
    expect(honeycode.pages.map((page) => page.rows?.length)).toEqual([100, 100, 50]);

    const { rules, warnings } = await loadHoneycodeRules(honeycode, TARGET);

    expect(honeycode.requests).toEqual([
      { workbookId: WORKBOOK, tableId: TABLE },
      { workbookId: WORKBOOK, tableId: TABLE, nextToken: "t1" },
      { workbookId: WORKBOOK, tableId: TABLE, nextToken: "t2" },
    ]);
    expect(rules.map((rule) => rule.id)).toEqual(rows.map((_, i) => `rule${i + 1}`));
    expect(rules[249]).toMatchObject({ event: "event250", count: { op: ">", value: 250 } });
    expect(warnings).toEqual([]);
  });

  it("an empty table loads no rules", async () => {
    const honeycode = new FakeHoneycode(pagesOf([]));
    expect(await loadHoneycodeRules(honeycode, TARGET)).toEqual({ rules: [], warnings: [] });
    expect(honeycode.requests).toHaveLength(1);
  });

  it("numbers rows across pages: a bad row on the second page is named by its number and id", async () => {
    const rows = Array.from({ length: 150 }, (_, i) => tableRow(i + 1, aggregatorCells(i + 1)));
    rows[136] = tableRow(137, aggregatorCells(137).with(5, "many"));
    const issues = await issuesOf(loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET));
    expect(issues).toEqual([
      {
        severity: "error",
        field: "Target-C",
        ruleId: "rule137",
        message: `row 137 (Honeycode row id ${rowId(137)}): "many" is not a whole number >= 0; write the count target, e.g. 3`,
      },
    ]);
  });
});

describe("loadHoneycodeRules: cells", () => {
  it("reads the displayed value, else the raw value; a missing value is an empty cell", async () => {
    const picklist: Cell = {
      format: "ROWLINK",
      rawValue: "row:8e0f2c3d/ca432b2f-b8eb-431d-9fb5-cbe0342f9f03",
      formattedValue: "greater",
    };
    const number: Cell = { format: "NUMBER", rawValue: "180.5", formattedValue: "180.5" };
    const rawOnly: Cell = { rawValue: "chair" };
    const empty: Cell = {};
    const dateRow: (string | Cell)[] = [
      "date",
      "purchase",
      "product",
      rawOnly,
      "na",
      "999",
      picklist,
      number,
    ];
    const rows = [
      tableRow(1, [...dateRow, "no", "2021-01-01", "2021-01-31", "chairs"]),
      // Empty dates and no MetricName cell at all: an aggregator row needs neither.
      tableRow(2, [
        "aggregator",
        "pageview",
        "na",
        "999",
        picklist,
        "3",
        "na",
        "999",
        "no",
        empty,
        empty,
        "pv",
      ]),
      // A value with only its displayed form, trimmed as a CSV cell is.
      tableRow(3, [
        ...aggregatorCells(3).slice(0, 6),
        "greater",
        "10",
        "no",
        "",
        "",
        "m",
        { formattedValue: " price " },
      ]),
    ];
    const { rules } = await loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET);
    expect(rules).toEqual([
      {
        id: "chairs",
        event: "purchase",
        where: { product: "chair" },
        sum: { op: ">", value: "180.5" },
        window: { from: "2021-01-01", to: "2021-01-31" },
        action: { type: "attribute", name: "trk_date_purchase_chair", value: "Ready" },
        reset: false,
        enabled: true,
      },
      {
        id: "pv",
        event: "pageview",
        count: { op: ">", value: 3 },
        action: { type: "attribute", name: "pageview", value: "Ready" },
        reset: false,
        enabled: true,
      },
      expect.objectContaining({
        id: "m",
        count: { op: ">", value: 3 },
        sum: { metric: "price", op: ">", value: "10" },
      }),
    ]);
  });

  it("a formatted number is refused as a CSV cell would be, naming the row and the column", async () => {
    const currency: Cell = { format: "CURRENCY", rawValue: "180", formattedValue: "$180.00" };
    const row = tableRow(1, [
      ...aggregatorCells(1).slice(0, 6),
      "greater",
      currency,
      ...aggregatorCells(1).slice(8),
    ]);
    const [issue] = await issuesOf(loadHoneycodeRules(new FakeHoneycode(pagesOf([row])), TARGET));
    expect(issue).toMatchObject({
      field: "Target-V",
      message: expect.stringMatching(/^row 1 \(Honeycode row id row:.*\): "\$180\.00" is not a number/),
    });
  });

  it("a row without cells is blank, and skipped; a row with too few is an error naming the first missing column", async () => {
    const rows = [
      { rowId: rowId(1), cells: undefined },
      tableRow(2, ["aggregator", "pageview"]),
      tableRow(3, aggregatorCells(3)),
    ];
    const issues = await issuesOf(loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET));
    expect(issues).toEqual([
      {
        severity: "error",
        field: "AttributeName",
        ruleId: "aggregatorpageview",
        message: `row 2 (Honeycode row id ${rowId(2)}): this row has 2 cells but the table needs 12 (RuleType to Key; MetricName is an optional 13th); add the missing cells or check the commas`,
      },
    ]);
  });

  it("lists every error with the table, row, column and reason", async () => {
    const rows = [
      tableRow(1, aggregatorCells(1)),
      tableRow(2, aggregatorCells(2).with(4, "bigger")),
      tableRow(3, aggregatorCells(3)),
      tableRow(4, aggregatorCells(4).with(9, "2021-01-01")),
    ];
    const failure = await loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET).catch(
      (caught: unknown) => caught,
    );
    expect(failure).toBeInstanceOf(InvalidRulesError);
    const lines = (failure as Error).message.split("\n");
    expect(lines[0]).toBe(`${SOURCE}: 2 invalid entries; fix every error listed and load the file again`);
    expect(lines[1]).toMatch(
      `  error: Operator-C: row 2 (Honeycode row id ${rowId(2)}): unknown operator "bigger"; use na,`,
    );
    expect(lines[2]).toMatch(
      `  error: StartDate: row 4 (Honeycode row id ${rowId(4)}): "2021-01-01" on an aggregator rule`,
    );
  });
});

describe("loadHoneycodeRules: the column names repeated as a row", () => {
  it("skips a first row that repeats the column names, with a warning", async () => {
    const rows = [
      tableRow(
        1,
        COLUMNS.map((name) => name.toUpperCase()),
      ),
      tableRow(2, aggregatorCells(2)),
    ];
    const { rules, warnings } = await loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET);
    expect(rules.map((rule) => rule.id)).toEqual(["rule2"]);
    expect(warnings).toEqual([
      {
        severity: "warning",
        message: `row 1 (Honeycode row id ${rowId(1)}): skipped: it repeats the column names (a CSV imported with its header row as data)`,
      },
    ]);
  });

  it("anywhere else such a row is data, and invalid", async () => {
    const rows = [tableRow(1, aggregatorCells(1)), tableRow(2, COLUMNS)];
    const issues = await issuesOf(loadHoneycodeRules(new FakeHoneycode(pagesOf(rows)), TARGET));
    expect(issues[0]).toMatchObject({
      field: "RuleType",
      message: expect.stringMatching(/^row 2 .*unknown RuleType "RuleType"/),
    });
  });
});

describe("loadHoneycodeRules and parseRulesCsv agree on the same rows", () => {
  const quote = (cell: string) => (/[",\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell);
  const toCsv = (rows: readonly (readonly string[])[]) =>
    [COLUMNS.join(","), ...rows.map((cells) => cells.map(quote).join(","))].join("\r\n");
  const toTableRows = (rows: readonly (readonly string[])[]) =>
    rows.map((cells, i) => tableRow(i + 1, cells));
  /** Issues without where they are: a line for CSV, a row locator for Honeycode. */
  const unlocated = (issues: readonly RuleIssue[]) =>
    issues.map(({ line: _line, ...issue }) => ({
      ...issue,
      message: issue.message.replace(/^row \d+ \([^)]*\): /, ""),
    }));

  const VARIED = [
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
      "k",
    ],
    [
      "aggregator",
      "Add To Cart",
      "Product Name",
      'Big "Oak", Table',
      "equal",
      "5",
      "na",
      "999",
      "yes",
      "",
      "",
      "k",
    ],
    [
      "date",
      "purchase",
      "product",
      "chair",
      "greater",
      "1",
      "greater",
      "180.5",
      "no",
      "2021-01-01",
      "2021-02-28",
      "",
      "price",
    ],
    [
      "date",
      "purchase",
      "na",
      "999",
      "na",
      "999",
      "smaller",
      "-2.50",
      "yes",
      "2020-02-29",
      "2020-02-29",
      "",
      "na",
    ],
    ["", "", "", "", "", "", "", "", "", "", "", ""],
    ["AGGREGATOR", "e".repeat(60), "NA", "999", "Greater", "3.0", "Na", "x", "No", "", "", ""],
    ...Array.from({ length: 120 }, (_, i) =>
      aggregatorCells(i % 7).with(11, i % 3 === 0 ? "" : `key${i % 5}`),
    ),
  ];

  it("valid rows: the same rules and warnings", async () => {
    const csv = parseRulesCsv(toCsv(VARIED));
    const honeycode = await loadHoneycodeRules(new FakeHoneycode(pagesOf(toTableRows(VARIED))), TARGET);
    expect(csv.rules).toHaveLength(125);
    expect(honeycode.rules).toEqual(csv.rules);
    expect(unlocated(honeycode.warnings)).toEqual(unlocated(csv.warnings));
    expect(csv.warnings).not.toEqual([]);
  });

  it("invalid rows: the same errors, field by field", async () => {
    const invalid = [
      ...VARIED,
      aggregatorCells(1).with(4, "na"),
      aggregatorCells(2).with(0, "sometimes"),
      ["date", "purchase", "na", "999", "equal", "1", "na", "999", "no", "2021-02-29", "2021-01-01", "d"],
      [
        "aggregator",
        "_session.start",
        "na",
        "999",
        "greater",
        "1",
        "na",
        "999",
        "no",
        "",
        "",
        "",
        "m",
        "extra",
      ],
    ];
    const csvIssues = await issuesOf(Promise.resolve().then(() => parseRulesCsv(toCsv(invalid))));
    const honeycodeIssues = await issuesOf(
      loadHoneycodeRules(new FakeHoneycode(pagesOf(toTableRows(invalid))), TARGET),
    );
    expect(csvIssues.filter((issue) => issue.severity === "error").length).toBeGreaterThanOrEqual(5);
    expect(unlocated(honeycodeIssues)).toEqual(unlocated(csvIssues));
  });
});

describe("loadHoneycodeRules: errors say what to do", () => {
  const named = (name: string, message = "from AWS") => Object.assign(new Error(message), { name });
  const DISCONTINUED =
    " Honeycode was discontinued on 2024-02-29: export the table to CSV (or use a copy you kept) and load it with pia rules push FILE";

  it.each<[string, unknown, string]>([
    [
      "a missing workbook or table",
      named("ResourceNotFoundException", "Workbook not found"),
      `ResourceNotFoundException: table ${TABLE} of workbook ${WORKBOOK} not found; check both ids (they appear in the table's URL).`,
    ],
    [
      "denied access",
      named("AccessDeniedException"),
      `AccessDeniedException: access to table ${TABLE} of workbook ${WORKBOOK} denied; the credentials need honeycode:ListTableRows on it, and the workbook must belong to a team linked to this AWS account.`,
    ],
    [
      "an unresolvable endpoint (the service is gone)",
      Object.assign(new Error("getaddrinfo ENOTFOUND honeycode.us-west-2.amazonaws.com"), {
        code: "ENOTFOUND",
      }),
      "ENOTFOUND: cannot reach Honeycode (getaddrinfo ENOTFOUND honeycode.us-west-2.amazonaws.com); check the network, or AWS_ENDPOINT_URL_HONEYCODE.",
    ],
    [
      "a refused connection",
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:4566"), { code: "ECONNREFUSED" }),
      "ECONNREFUSED: cannot reach Honeycode (connect ECONNREFUSED 127.0.0.1:4566); check the network, or AWS_ENDPOINT_URL_HONEYCODE.",
    ],
    [
      "the service unavailable",
      named("ServiceUnavailableException", "Remote service is unreachable"),
      "ServiceUnavailableException: cannot reach Honeycode (Remote service is unreachable); check the network, or AWS_ENDPOINT_URL_HONEYCODE.",
    ],
    [
      "a timeout",
      named("TimeoutError", "Connection timed out after 5000 ms"),
      "TimeoutError: cannot reach Honeycode (Connection timed out after 5000 ms); check the network, or AWS_ENDPOINT_URL_HONEYCODE.",
    ],
    [
      "an invalid id",
      named("ValidationException", "1 validation error detected: tableId"),
      "ValidationException: 1 validation error detected: tableId; check the workbook and table ids.",
    ],
    [
      "no credentials",
      named("CredentialsProviderError", "Could not load credentials from any providers"),
      "CredentialsProviderError: no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
    ],
    [
      "refused credentials",
      named("UnrecognizedClientException"),
      "UnrecognizedClientException: the credentials were refused; refresh them (e.g. aws sso login) or check AWS_PROFILE.",
    ],
    [
      "throttling",
      named("ThrottlingException"),
      `ThrottlingException: Honeycode is throttling reads of table ${TABLE} of workbook ${WORKBOOK}; run the command again in a moment.`,
    ],
    [
      "anything else",
      named("UnknownError", "something odd"),
      `UnknownError: something odd (reading table ${TABLE} of workbook ${WORKBOOK}).`,
    ],
  ])("%s", async (_case, error, expected) => {
    for (const onRequest of [1, 3]) {
      const honeycode = new FakeHoneycode(
        pagesOf(Array.from({ length: 250 }, (_, i) => tableRow(i, aggregatorCells(i)))),
      );
      honeycode.failure = { error, onRequest };
      const failure = await loadHoneycodeRules(honeycode, TARGET).catch((caught: unknown) => caught);
      expect(failure).toBeInstanceOf(HoneycodeReadError);
      expect(failure).toMatchObject({ message: `${expected}${DISCONTINUED}`, cause: error });
      expect(honeycode.requests).toHaveLength(onRequest);
    }
  });
});

/** A local HTTP server standing in for the Honeycode endpoint; `answer` decides each response. */
async function startEndpoint(
  answer: (path: string, body: Record<string, unknown>) => [number, Record<string, string>, unknown],
) {
  const requests: { method: string; path: string; body: Record<string, unknown> }[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      const path = request.url ?? "";
      requests.push({ method: request.method ?? "", path, body });
      const [status, headers, payload] = answer(path, body);
      response.writeHead(status, { "content-type": "application/json", ...headers });
      response.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("the real client against a stand-in endpoint", () => {
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    vi.unstubAllEnvs();
    await close?.();
    close = undefined;
  });

  it("pages through ListTableRows with the API's paths and JSON", async () => {
    const pages = pagesOf(Array.from({ length: 250 }, (_, i) => tableRow(i + 1, aggregatorCells(i + 1))));
    const endpoint = await startEndpoint((_path, body) => [
      200,
      {},
      pages[body.nextToken === undefined ? 0 : Number(String(body.nextToken).slice(1))],
    ]);
    close = endpoint.close;
    const client = new HoneycodeClient({ region: "us-west-2", endpoint: endpoint.url, credentials });

    const { rules } = await loadHoneycodeRules(buildHoneycodeRows(client), TARGET);

    expect(rules).toHaveLength(250);
    const path = `/workbooks/${WORKBOOK}/tables/${TABLE}/rows/list`;
    expect(endpoint.requests).toEqual([
      { method: "POST", path, body: { maxResults: 100 } },
      { method: "POST", path, body: { maxResults: 100, nextToken: "t1" } },
      { method: "POST", path, body: { maxResults: 100, nextToken: "t2" } },
    ]);
  });

  it.each([
    [403, "AccessDeniedException", /^AccessDeniedException: access to table/],
    [404, "ResourceNotFoundException", /^ResourceNotFoundException: table .* not found/],
    [400, "ValidationException", /^ValidationException: bad id; check the workbook and table ids/],
  ])("maps an HTTP %i %s to what to do", async (status, type, message) => {
    const endpoint = await startEndpoint(() => [
      status,
      { "x-amzn-errortype": `${type}:http://internal.amazon.com/` },
      { message: "bad id" },
    ]);
    close = endpoint.close;
    const client = new HoneycodeClient({
      region: "us-west-2",
      endpoint: endpoint.url,
      credentials,
      maxAttempts: 1,
    });
    await expect(loadHoneycodeRules(buildHoneycodeRows(client), TARGET)).rejects.toThrow(message);
  });

  it("maps a closed port to 'cannot reach Honeycode'", async () => {
    const endpoint = await startEndpoint(() => [200, {}, {}]);
    await endpoint.close();
    const client = new HoneycodeClient({
      region: "us-west-2",
      endpoint: endpoint.url,
      credentials,
      maxAttempts: 1,
    });
    const failure = await loadHoneycodeRules(buildHoneycodeRows(client), TARGET).catch(
      (caught: unknown) => caught,
    );
    expect(failure).toMatchObject({ name: "HoneycodeReadError", errorName: "ECONNREFUSED" });
    expect(String((failure as Error).message)).toMatch(/cannot reach Honeycode.*pia rules push FILE$/);
  });

  it("openHoneycodeRows honours AWS_ENDPOINT_URL_HONEYCODE", async () => {
    const endpoint = await startEndpoint(() => [200, {}, pagesOf([tableRow(1, aggregatorCells(1))])[0]]);
    close = endpoint.close;
    vi.stubEnv("AWS_ENDPOINT_URL_HONEYCODE", endpoint.url);
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
    const { rules } = await loadHoneycodeRules(openHoneycodeRows("us-west-2"), TARGET);
    expect(rules.map((rule) => rule.id)).toEqual(["rule1"]);
    expect(endpoint.requests).toHaveLength(1);
  });
});
