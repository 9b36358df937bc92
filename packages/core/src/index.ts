export type { CompiledRule, CounterRule, RollingRule, RuleKind } from "./compileRule.js";
export { compileRule, matchesEvent, metricText } from "./compileRule.js";
export { counterKey } from "./counterKey.js";
export { DAY_MS, parseIsoDateTime, parseStrictDate } from "./dates.js";
export type {
  CounterState,
  Firing,
  MatchFiring,
  RollingFiring,
  RollingState,
  RuleMatch,
  RuleState,
  RuleStep,
  WindowEvent,
} from "./decideRule.js";
export {
  advanceClock,
  applyMatches,
  isClosingDue,
  isSettled,
  nextDue,
  WindowNotLoadedError,
  windowFrontNeeded,
} from "./decideRule.js";
export { canonicalDecimal, Decimal, isPlainDecimal, toDecimal, ZERO } from "./decimal.js";
export type { EngineObserver, EngineSummary } from "./Engine.js";
export { Engine } from "./Engine.js";
export type { PiaEvent, RecordOutcome, SkipReason } from "./event.js";
export { MAX_RECORD_BYTES, SKIP_REASONS } from "./event.js";
export { eventIdentity } from "./eventIdentity.js";
export type { AppExplanation, CountedEvent, RuleExplanation } from "./explainRule.js";
export { conditionWords, RuleExplainer, ruleWords, totalsScopeWords, verdictWords } from "./explainRule.js";
export { formatRulesCsv, ruleRowOf } from "./formatRulesCsv.js";
export { IdentitySet } from "./IdentitySet.js";
export type { LoadedRules, RuleIssue } from "./issues.js";
export { formatIssue, InvalidRulesError } from "./issues.js";
export type { Notification } from "./notification.js";
export { formatNotification, makeNotification } from "./notification.js";
export { type PreviewOptions, PreviewTally, type PreviewUser, type RulePreview } from "./PreviewTally.js";
export { parseRulesJson, parseRulesYaml } from "./parseCanonicalRules.js";
export type { EventMapping, MappingIssue, MappingPath, TimestampUnit } from "./parseEventMapping.js";
export {
  InvalidMappingError,
  MAX_MAPPING_CHARS,
  parseEventMapping,
  TIMESTAMP_UNITS,
} from "./parseEventMapping.js";
export { parseRecord } from "./parseRecord.js";
export type { CsvColumn, RuleRow } from "./parseRuleRows.js";
export { CSV_COLUMNS, NO_DATE, OPERATOR_WORDS, parseRuleRows, tableAction } from "./parseRuleRows.js";
export { parseRulesCsv } from "./parseRulesCsv.js";
export { parseRulesFile } from "./parseRulesFile.js";
export { previewRule } from "./previewRule.js";
export { SEGMENT_OTHER_CALLS } from "./readSegmentCall.js";
export type { InputFormat, RecordReader, RecordReaderOptions } from "./recordReader.js";
export { INPUT_FORMATS, recordReader } from "./recordReader.js";
export type {
  CountCondition,
  DateWindow,
  Operator,
  RollingWindow,
  Rule,
  RuleAction,
  RuleWindow,
  SinkName,
  SumCondition,
} from "./rule.js";
export { isRollingWindow, MAX_ROLLING_MS, OPERATORS, rollingLengthMs, SINK_NAMES } from "./rule.js";
export { DEFAULT_ATTRIBUTE_VALUE, validateRules } from "./ruleSchema.js";
