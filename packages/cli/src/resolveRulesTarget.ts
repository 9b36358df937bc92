import type { RulesTableTarget } from "@pia/aws";
import { UsageError } from "./errors.js";

/** The flags that say which rules table to use (every `pia rules` command that reaches AWS). */
export interface TableFlags {
  readonly table?: string;
  readonly stage?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_REGION = "us-east-1";

/** The rules table of a deployed stage: the deploy must name it this way for `--stage` to find it. */
export function stageRulesTable(stage: string): string {
  return `pia-${stage}-rules`;
}

/**
 * The table: `--table`, else `pia-<stage>-rules` for `--stage`, else `$PIA_RULES_TABLE`. Flags win
 * over the environment, so that `--stage prod` can never silently write to the table a shell
 * exported. The region: `--region`, else `$AWS_REGION`, else us-east-1. The endpoint only when
 * `--endpoint` is given: otherwise the SDK applies `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`.
 */
export function resolveRulesTarget(flags: TableFlags, env: Env): RulesTableTarget {
  if (flags.stage !== undefined && !/^[A-Za-z0-9_.-]+$/.test(flags.stage)) {
    throw new UsageError(
      `--stage ${JSON.stringify(flags.stage)}: use letters, digits, "-", "_" or "." (the table is ${stageRulesTable("<stage>")})`,
    );
  }
  const tableName =
    flags.table ??
    (flags.stage === undefined ? undefined : stageRulesTable(flags.stage)) ??
    nonEmpty(env.PIA_RULES_TABLE);
  if (tableName === undefined || tableName === "") {
    throw new UsageError(
      "which rules table? pass --table NAME or --stage STAGE (table pia-STAGE-rules), or set PIA_RULES_TABLE",
    );
  }
  if (flags.endpoint !== undefined && !URL.canParse(flags.endpoint)) {
    throw new UsageError(
      `--endpoint ${JSON.stringify(flags.endpoint)} is not a URL; e.g. http://localhost:8000`,
    );
  }
  return {
    tableName,
    region: flags.region ?? nonEmpty(env.AWS_REGION) ?? DEFAULT_REGION,
    ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}
