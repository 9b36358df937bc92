export { awsErrorName, isRefusedCredentials, isUnreachable } from "./awsErrorName.js";
export type { BackfillBoundary, BackfillMode, CounterOwner, HeldMatch, MergeInput } from "./backfill.js";
export {
  BACKFILL_MODES,
  HELD_LIMIT,
  heldMatchesOf,
  historyOrder,
  holdMatches,
  isHeld,
  isLive,
  mergeBackfill,
} from "./backfill.js";
export type { RetryOptions } from "./batchWrite.js";
export { BATCH_WRITE_LIMIT, batchWrite } from "./batchWrite.js";
export { buildClearPending } from "./clearPending.js";
export type { ConfigProblem, Env } from "./config.js";
export { ConfigError, readEnv } from "./config.js";
export type { CounterItem } from "./counterItem.js";
export {
  counterStateOf,
  NO_SEQUENCE,
  notificationId,
  paddedSequence,
  pendingMessages,
} from "./counterItem.js";
export type { DeadLetter } from "./deadLetters.js";
export { listDeadLetters, redriveDeadLetters } from "./deadLetters.js";
export type { Defaults } from "./defaults.js";
export { DEFAULTS } from "./defaults.js";
export type { PendingDelivery } from "./deliverPending.js";
export { deliverPending } from "./deliverPending.js";
export { emitCounts, emitCountsBy } from "./emitCounts.js";
export type { EventItem, EventItemOptions } from "./eventItem.js";
export {
  arrivalOf,
  eventDay,
  fromEventItem,
  InvalidEventItemError,
  toEventItem,
  typeDayKey,
  userKey,
} from "./eventItem.js";
export type {
  ExplainStoredUserOptions,
  StoredCounterState,
  StoredUserExplanation,
} from "./explainStoredUser.js";
export {
  explainStoredUser,
  MAX_EXPLAIN_EVENTS,
  storedCounterState,
  storedStateWords,
} from "./explainStoredUser.js";
export type {
  HoneycodeCell,
  HoneycodeRow,
  HoneycodeRows,
  HoneycodeRowsPage,
  HoneycodeTable,
} from "./honeycodeRuleSource.js";
export {
  buildHoneycodeRows,
  HoneycodeReadError,
  loadHoneycodeRules,
  openHoneycodeRows,
} from "./honeycodeRuleSource.js";
export { headerOf, jsonResult, requestPath } from "./httpRequest.js";
export { lambdaContext } from "./lambdaContext.js";
export type { Log } from "./log.js";
export { mapLimited } from "./mapLimited.js";
export type { NotificationMessage } from "./notificationMessage.js";
export {
  batchEntryId,
  batchEntryIndex,
  InvalidNotificationMessageError,
  MAX_NOTIFICATION_ID_BYTES,
  parseMessageBody,
  SEND_BATCH_LIMIT,
  toMessageBody,
} from "./notificationMessage.js";
export type { ReadHistory, ReadHistoryConfig, UserHistory } from "./readHistory.js";
export { buildReadHistory, HISTORY_LIMIT, HistoryTooLargeError } from "./readHistory.js";
export { chunk, retryUnprocessed } from "./retryUnprocessed.js";
export type { RollingItem, RollingSummaryFields, RollingTarget, WindowItem } from "./rollingItem.js";
export {
  dueShardOf,
  isLiveWindowItem,
  isRollingItem,
  orderStreamOf,
  paddedAt,
  parkedShardOf,
  rollingMessage,
  rollingStateOf,
  rollingSummary,
  WINDOW_ITEM_MARGIN_DAYS,
  windowItemExpiry,
  windowItemSk,
  windowPrefix,
} from "./rollingItem.js";
export type { LoadWindowFront, PutWindowItems, RollingStore } from "./rollingStore.js";
export { buildRollingStore } from "./rollingStore.js";
export type { CachedRuleSourceOptions, RuleSet, RuleSetSource, RuleSource } from "./ruleSource.js";
export {
  cachedRuleSet,
  DEFAULT_RULES_TTL_MS,
  InvalidStoredRulesError,
  validateStoredRules,
} from "./ruleSource.js";
export type {
  BackfillJob,
  BackfillProgress,
  BackfillState,
  ChangeKind,
  RuleVersion,
} from "./rulesTable/items.js";
export { BACKFILL_STATES, canonicalRuleJson, NO_PROGRESS } from "./rulesTable/items.js";
export type {
  BackfillJobs,
  BackfillRequests,
  ClaimOutcome,
  ClosingDecisions,
  PushResult,
  PutOptions,
  RulesTable,
  RulesTableOptions,
  RulesTableTarget,
  ScheduleRun,
} from "./rulesTable/rulesTable.js";
export {
  buildRulesTable,
  newBackfillJob,
  openRulesTable,
  RulesTableWriteError,
} from "./rulesTable/rulesTable.js";
export type {
  Author,
  BackfillOutcome,
  BackfillRequest,
  ChangeOptions,
  ChangeResult,
  ChangeSetResult,
  RuleChange,
  RuleSetChange,
  StoredRule,
  VersionedRules,
} from "./rulesTable/versionedRules.js";
export {
  BACKFILL_OUTCOMES,
  ChangeSetTooLargeError,
  OUTSIDE_AUTHOR,
  RulesTableConflictError,
  TRANSACTION_BYTE_LIMIT,
  TRANSACTION_ITEM_LIMIT,
} from "./rulesTable/versionedRules.js";
export { buildSendMessages } from "./sendMessages.js";
export type { StageReader, StageTableNames, UserEvents } from "./stageTables.js";
export { buildStageReader, openStageReader } from "./stageTables.js";
export type { QueueName, TableDefinition, TableName } from "./tables.js";
export { QUEUES, TABLES, toCreateTableInput } from "./tables.js";
