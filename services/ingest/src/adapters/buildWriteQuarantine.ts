import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { batchWrite, type RetryOptions } from "@pia/aws";
import type { WriteQuarantine } from "../ports.js";

export interface WriteQuarantineConfig {
  readonly tableName: string;
  readonly retry?: RetryOptions;
}

/** Puts quarantine items into the quarantine table, returning those still unprocessed after the retries. */
export function buildWriteQuarantine(
  client: DynamoDBDocumentClient,
  config: WriteQuarantineConfig,
): WriteQuarantine {
  return async (items) => ({ unprocessed: await batchWrite(client, config.tableName, items, config.retry) });
}
