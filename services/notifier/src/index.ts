export type { NotifyHandlerDeps } from "./buildNotifyHandler.js";
export { buildNotifyHandler } from "./buildNotifyHandler.js";
export type { NotifierConfig, SinkConfig } from "./config.js";
export { loadSinkConfig } from "./config.js";
export type { NotifyCounts } from "./notifyMessages.js";
export type { DeliverOptions, DeliveryResult, Sink } from "./ports.js";
export type { ProfilesObjectTypeDefinition } from "./profiles/objectType.js";
export {
  DEFAULT_PROFILES_OBJECT_TYPE,
  PROFILES_KEY_PATTERN,
  PROFILES_OBJECT_TYPE_PATTERN,
  PROFILES_UNIQUE_KEY,
  profilesObjectTypeDefinition,
} from "./profiles/objectType.js";
export { buildOneSink } from "./sinks/buildSink.js";
