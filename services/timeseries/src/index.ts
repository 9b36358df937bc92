export type { ScheduleHandlerDeps } from "./buildScheduleHandler.js";
export { buildScheduleHandler } from "./buildScheduleHandler.js";
export type { TimeseriesConfig } from "./config.js";
export type { RollingCounts } from "./decideRollingExpiries.js";
export type { BackfillCounts } from "./runBackfills.js";
