/**
 * Structured logging, the port every service's use cases log through (Powertools Logger fits).
 * Attributes carry counts and ids of our own making, never user ids, callers or payloads: logs are
 * read by more people than the data is.
 */
export interface Log {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}
