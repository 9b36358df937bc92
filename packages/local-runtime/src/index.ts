export type { Faults } from "./faults.js";
export { InjectedFaultError } from "./faults.js";
export type { LocalRunOptions, LocalRunSummary } from "./runLocalPipeline.js";
export { runLocalPipeline } from "./runLocalPipeline.js";
export type { RequestTally } from "./tallyRequests.js";
