import type { RulesTableTarget } from "@pia/aws";
// The subpath, not the package: `pia simulate` must not load the AWS SDK.
import { awsErrorName, isRefusedCredentials, isUnreachable } from "@pia/aws/errors";
import type { Env } from "./resolveRulesTarget.js";

/** A `pia rules` command that reached the rules table and could not do what was asked: exit 1. */
export class RulesTableError extends Error {
  override readonly name = "RulesTableError";
}

const THROTTLED = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "RulesTableWriteError",
]);
/**
 * Turns what the SDK threw into an error that names the AWS error and says what to do, e.g.
 * `ResourceNotFoundException: table pia-dev-rules not found in region eu-west-1; ...`.
 */
export function toRulesTableError(error: unknown, target: RulesTableTarget, env: Env): RulesTableError {
  const name = awsErrorName(error);
  const message = error instanceof Error ? error.message : String(error);
  const endpoint = target.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL;
  const where = `region ${target.region}${endpoint === undefined || endpoint === "" ? "" : ` at ${endpoint}`}`;
  let hint: string;
  if (name === "ResourceNotFoundException") {
    hint = `table ${target.tableName} not found in ${where}; deploy the stack or pass --table (or --stage, --region)`;
  } else if (name === "CredentialsProviderError") {
    hint =
      "no AWS credentials found; set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values do for a local endpoint)";
  } else if (isRefusedCredentials(name)) {
    hint = `the credentials were refused in ${where}; refresh them (e.g. aws sso login) or check AWS_PROFILE`;
  } else if (name === "AccessDeniedException") {
    hint = `access to table ${target.tableName} denied; the credentials need dynamodb:Query, dynamodb:BatchWriteItem and dynamodb:DeleteItem on it`;
  } else if (THROTTLED.has(name)) {
    hint = `DynamoDB is throttling table ${target.tableName}; run the command again in a moment (a push only writes what differs)`;
  } else if (isUnreachable(name)) {
    hint = `cannot reach DynamoDB in ${where}; check the network, --endpoint, or AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL`;
  } else {
    hint = `${message} (table ${target.tableName}, ${where})`;
  }
  return new RulesTableError(`${name}: ${hint}`, { cause: error });
}
