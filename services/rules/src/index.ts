export { buildRuleStore, OUTSIDE_AUTHOR, versionPartition } from "./adapters/buildRuleStore.js";
export type { RulesApiHandlerDeps } from "./buildRulesApiHandler.js";
export { buildRulesApiHandler } from "./buildRulesApiHandler.js";
export type { RulesApiConfig } from "./config.js";
export { loadConfig } from "./config.js";
export type { FieldIssue } from "./errors.js";
export type { ApiEvent, ApiResult } from "./httpApi.js";
export type { ChangeKind, RuleStore, RuleVersion, StoredRule } from "./ports.js";
export { validateRule } from "./validateRule.js";
