export type { FaultKind, Faults } from "./faults.js";
export { FAULT_KINDS, InjectedFaultError } from "./faults.js";
export type {
  LocalRound,
  LocalRounds,
  LocalRunOptions,
  LocalRunSettings,
  LocalRunSummary,
} from "./runLocalPipeline.js";
export { runLocalPipeline } from "./runLocalPipeline.js";
export { type RulesUi, type RulesUiOptions, serveRulesUi } from "./serveRulesUi.js";
export type { RequestTally } from "./tallyRequests.js";
export { emptyTally, tallyDynamoDb } from "./tallyRequests.js";
