import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { buildRulesTable, RulesTableConflictError } from "@pia/aws";
import { RuleSetConflictError, RuleVersionConflictError } from "../errors.js";
import type { RuleStore } from "../ports.js";

/**
 * The rules API's store: the rules table's versioned rules (`@pia/aws`, which owns every key and
 * attribute of the table), with its write conflicts told as the API's errors.
 */
export function buildRuleStore(
  client: DynamoDBDocumentClient,
  config: { readonly tableName: string; readonly now?: () => number },
): RuleStore {
  const rules = buildRulesTable(
    client,
    config.tableName,
    config.now === undefined ? {} : { now: config.now },
  ).versioned;
  return {
    list: () => rules.list(),
    get: (id) => rules.get(id),
    history: (id) => rules.history(id),
    version: (id, version) => rules.version(id, version),
    backfill: (key) => rules.backfill(key),
    backfills: () => rules.backfills(),
    async change(id, decide, author, options) {
      try {
        return await rules.change(id, decide, author, options);
      } catch (error: unknown) {
        if (error instanceof RulesTableConflictError)
          throw new RuleVersionConflictError(id, error.readVersion, undefined, { cause: error });
        throw error;
      }
    },
    async changeSet(decide, author, options) {
      try {
        return await rules.changeSet(decide, author, options);
      } catch (error: unknown) {
        if (error instanceof RulesTableConflictError)
          throw new RuleSetConflictError(error.ruleIds, { cause: error });
        throw error;
      }
    },
  };
}
