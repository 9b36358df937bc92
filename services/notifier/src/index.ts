export type { NotifyHandlerDeps } from "./buildNotifyHandler.js";
export { buildNotifyHandler } from "./buildNotifyHandler.js";
export type { NotifierConfig, SinkConfig } from "./config.js";
export { loadSinkConfig } from "./config.js";
export type { NotifyCounts } from "./notifyMessages.js";
export type { DeliverOptions, DeliveryResult, Sink } from "./ports.js";
export { buildOneSink } from "./sinks/buildSink.js";
