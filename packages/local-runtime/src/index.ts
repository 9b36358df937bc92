export type { DynamoDbStreamMappingOptions } from "./DynamoDbStreamMapping.js";
export { DynamoDbStreamMapping } from "./DynamoDbStreamMapping.js";
export type { BatchResponse, GivenUp } from "./deliverWithRetries.js";
export type { EventFilterPattern } from "./eventFilter.js";
export { matchesEventFilter, parseEventFilter, UnsupportedEventFilterError } from "./eventFilter.js";
export type {
  BatchFaults,
  FaultKind,
  Faults,
  HandlerFaults,
  KinesisFaults,
  QueueFaults,
  ScheduleFaults,
  StreamFaults,
} from "./faults.js";
export { FAULT_KINDS, InjectedFaultError } from "./faults.js";
export type { KinesisMappingOptions } from "./KinesisMapping.js";
export { KinesisMapping, kinesisSequenceNumber } from "./KinesisMapping.js";
export type { LambdaHandler } from "./LambdaHandler.js";
export type { LocalPipelineOptions, LocalRunSummary } from "./LocalPipeline.js";
export { LocalPipeline } from "./LocalPipeline.js";
export type { LocalScheduleOptions } from "./LocalSchedule.js";
export { LocalSchedule } from "./LocalSchedule.js";
export type { LocalRunOptions } from "./runLocalPipeline.js";
export { runLocalPipeline } from "./runLocalPipeline.js";
export type { SqsMappingOptions } from "./SqsMapping.js";
export { SqsMapping } from "./SqsMapping.js";
export { serialize } from "./serialize.js";
export { type LocalCollect, type RulesUi, type RulesUiOptions, serveRulesUi } from "./serveRulesUi.js";
export type { RequestTally } from "./tallyRequests.js";
export { emptyTally, tallyDynamoDb } from "./tallyRequests.js";
