export { ndjsonChunks } from "./ndjsonChunks.js";
export type { MalformedKind, SampleEventsOptions, SampleFormat, SampleRulesOptions } from "./sample.js";
export {
  generateSampleEvents,
  generateSampleRulesCsv,
  MALFORMED_KINDS,
  mulberry32,
  SAMPLE_APP_IDS,
  SAMPLE_FORMATS,
  SAMPLE_RULES_HEADER,
} from "./sample.js";
export { isoWithOffset, toSegmentCall } from "./toSegmentCall.js";
