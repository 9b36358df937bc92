export type { NotifyHandlerDeps } from "./buildNotifyHandler.js";
export { buildNotifyHandler } from "./buildNotifyHandler.js";
export type { NotifierConfig } from "./config.js";
export type { NotifyCounts } from "./notifyMessages.js";
export type { DeliveryResult, Sink } from "./ports.js";
