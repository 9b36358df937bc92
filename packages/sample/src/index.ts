export { ndjsonChunks } from "./ndjsonChunks.js";
export type { MalformedKind, SampleEventsOptions, SampleRulesOptions } from "./sample.js";
export {
  generateSampleEvents,
  generateSampleRulesCsv,
  MALFORMED_KINDS,
  mulberry32,
  SAMPLE_APP_IDS,
  SAMPLE_RULES_HEADER,
} from "./sample.js";
