export { BY_TYPE_DAY_INDEX, buildEventsByType } from "./adapters/buildEventsByType.js";
export { buildRuleStore } from "./adapters/buildRuleStore.js";
export type { RulesApiHandlerDeps } from "./buildRulesApiHandler.js";
export { buildRulesApiHandler, SIGN_IN_PATH } from "./buildRulesApiHandler.js";
export type { Access, RulesApiConfig, SignIn } from "./config.js";
export { DEFAULT_EDITOR_GROUP, loadConfig } from "./config.js";
export type { FieldIssue } from "./errors.js";
export type { ExplainAnswer, ExplainRequest } from "./explainUser.js";
export {
  DEFAULT_EXPLAIN_LIMIT,
  MAX_EXPLAIN_LIMIT,
  makeExplainUser,
  readExplainRequest,
} from "./explainUser.js";
export type { ApiEvent, ApiResult } from "./httpApi.js";
export type { ChangeKind, ReadEventsByTypeDay, RuleStore, RuleVersion, StoredRule } from "./ports.js";
export type { PartialReason, PreviewPartial, RulePreviewAnswer } from "./previewDraftRule.js";
export { makePreviewDraftRule, PREVIEW_MAX_BYTES, PREVIEW_SAMPLE_SIZE } from "./previewDraftRule.js";
export { EDITOR_FILES, EDITOR_HEADERS, editorHeaders } from "./serveEditor.js";
export { validateRule } from "./validateRule.js";
