export type { IngestHandlerDeps } from "./buildIngestHandler.js";
export { buildIngestHandler } from "./buildIngestHandler.js";
export type { IngestConfig } from "./config.js";
export type { IngestCounts } from "./ingestRecords.js";
