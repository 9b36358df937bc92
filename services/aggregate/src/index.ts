export type { AggregateCounts } from "./aggregateRecords.js";
export type { AggregateHandlerDeps } from "./buildAggregateHandler.js";
export { buildAggregateHandler } from "./buildAggregateHandler.js";
export type { AggregateConfig } from "./config.js";
