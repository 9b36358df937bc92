import { HoneycodeClient, ListTableRowsCommand } from "@aws-sdk/client-honeycode";
import type { LoadedRules, RuleIssue, RuleRow } from "@pia/core";
import { CSV_COLUMNS, parseRuleRows } from "@pia/core";
import { awsErrorName, isRefusedCredentials, isUnreachable } from "./awsErrorName.js";

/** A cell as ListTableRows returns it: what is displayed, and the value behind it. */
export interface HoneycodeCell {
  readonly formattedValue?: string | undefined;
  readonly rawValue?: string | undefined;
}

/** A row as ListTableRows returns it: its id and its cells in column order. */
export interface HoneycodeRow {
  readonly rowId: string | undefined;
  readonly cells: readonly HoneycodeCell[] | undefined;
}

/** One page of ListTableRows; no `nextToken` means the last page. */
export interface HoneycodeRowsPage {
  readonly rows: readonly HoneycodeRow[] | undefined;
  readonly nextToken?: string | undefined;
}

/** A table of a Honeycode workbook (both ids appear in the table's URL). */
export interface HoneycodeTable {
  readonly workbookId: string;
  readonly tableId: string;
}

/**
 * Reads a table's rows one page at a time. Our own port rather than the client itself, whose
 * types clash with aws-sdk-client-mock (tests pass a fake).
 */
export interface HoneycodeRows {
  listRows(input: HoneycodeTable & { readonly nextToken?: string }): Promise<HoneycodeRowsPage>;
}

/** The largest page ListTableRows returns. */
const PAGE_SIZE = 100;

export function buildHoneycodeRows(client: HoneycodeClient): HoneycodeRows {
  return {
    listRows: ({ workbookId, tableId, nextToken }) =>
      client.send(
        new ListTableRowsCommand({
          workbookId,
          tableId,
          maxResults: PAGE_SIZE,
          ...(nextToken === undefined ? {} : { nextToken }),
        }),
      ),
  };
}

/**
 * Rows over a new Honeycode client with the default credential chain (for the CLI); the SDK
 * honours `AWS_ENDPOINT_URL_HONEYCODE` / `AWS_ENDPOINT_URL`. Timeouts keep a dead endpoint from
 * hanging the command, since the service itself is gone.
 */
export function openHoneycodeRows(region: string): HoneycodeRows {
  return buildHoneycodeRows(
    new HoneycodeClient({ region, requestHandler: { connectionTimeout: 5_000, requestTimeout: 30_000 } }),
  );
}

const DISCONTINUED =
  "Honeycode was discontinued on 2024-02-29: export the table to CSV (or use a copy you kept) and load it with pia rules push FILE";

const THROTTLED = new Set(["ThrottlingException", "ServiceQuotaExceededException"]);
/** The service answering that it is not there: besides network failures, what a shut-down service looks like. */
const SHUT_DOWN = new Set([
  "ServiceUnavailableException",
  "RequestTimeoutException",
  "InternalServerException",
]);

/** The table could not be read; names the AWS error and says what to do. */
export class HoneycodeReadError extends Error {
  override readonly name = "HoneycodeReadError";
  constructor(
    /** The AWS error's name, or the network error's code. */
    readonly errorName: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function toHoneycodeReadError(error: unknown, table: HoneycodeTable): HoneycodeReadError {
  const name = awsErrorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const what = `table ${table.tableId} of workbook ${table.workbookId}`;
  let hint: string;
  if (name === "ResourceNotFoundException") {
    hint = `${what} not found; check both ids (they appear in the table's URL)`;
  } else if (name === "AccessDeniedException") {
    hint = `access to ${what} denied; the credentials need honeycode:ListTableRows on it, and the workbook must belong to a team linked to this AWS account`;
  } else if (name === "ValidationException") {
    hint = `${message}; check the workbook and table ids`;
  } else if (name === "CredentialsProviderError") {
    hint = "no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY";
  } else if (isRefusedCredentials(name)) {
    hint = "the credentials were refused; refresh them (e.g. aws sso login) or check AWS_PROFILE";
  } else if (THROTTLED.has(name)) {
    hint = `Honeycode is throttling reads of ${what}; run the command again in a moment`;
  } else if (isUnreachable(name) || SHUT_DOWN.has(name)) {
    hint = `cannot reach Honeycode (${message}); check the network, or AWS_ENDPOINT_URL_HONEYCODE`;
  } else {
    hint = `${message} (reading ${what})`;
  }
  return new HoneycodeReadError(name, `${name}: ${hint}. ${DISCONTINUED}`, { cause: error });
}

/** A row whose cells are the column names: a CSV imported with its header row taken as data. */
function isHeaderRow(cells: readonly string[]): boolean {
  return CSV_COLUMNS.slice(0, 12).every(
    (name, index) => cells[index]?.trim().toLowerCase() === name.toLowerCase(),
  );
}

/**
 * Every row of a Honeycode table in the 12-column layout (docs/rules.md section 1.2), page after page,
 * as canonical rules, with exactly the validation of a CSV file. Cells are read by position: the
 * displayed value (`formattedValue`), else `rawValue`. The table's column names are not a row, so
 * every row is data, except a first row that repeats the column names (skipped, with a warning).
 * Throws `InvalidRulesError` naming each bad row by number and row id, field and reason, or
 * `HoneycodeReadError` when the table cannot be read.
 */
export async function loadHoneycodeRules(rows: HoneycodeRows, table: HoneycodeTable): Promise<LoadedRules> {
  const source = `Honeycode table ${table.tableId} (workbook ${table.workbookId})`;
  const read: RuleRow[] = [];
  let nextToken: string | undefined;
  do {
    let page: HoneycodeRowsPage;
    try {
      page = await rows.listRows({ ...table, ...(nextToken === undefined ? {} : { nextToken }) });
    } catch (error: unknown) {
      throw toHoneycodeReadError(error, table);
    }
    for (const row of page.rows ?? []) {
      read.push({
        cells: (row.cells ?? []).map((cell) => cell.formattedValue ?? cell.rawValue ?? ""),
        locator: `row ${read.length + 1} (Honeycode row id ${row.rowId ?? "unknown"})`,
      });
    }
    nextToken = page.nextToken;
  } while (nextToken !== undefined && nextToken !== "");

  const [first] = read;
  const skipped: RuleIssue[] =
    first !== undefined && isHeaderRow(first.cells)
      ? [
          {
            severity: "warning",
            message: `${first.locator}: skipped: it repeats the column names (a CSV imported with its header row as data)`,
          },
        ]
      : [];
  const loaded = parseRuleRows(skipped.length === 0 ? read : read.slice(1), source);
  return { rules: loaded.rules, warnings: [...skipped, ...loaded.warnings] };
}
