/**
 * A record that passed every check of docs/rules.md section 2 (before de-duplication), whatever its
 * input format: a Pinpoint record, a Segment `track` call or an app's own JSON read through a mapping.
 */
export interface PiaEvent {
  /**
   * Equal identities are the same event: `id:<event_id>` (Pinpoint), `segment:<messageId>`,
   * `mapped:<eventId>`, or `h:<content hash>`, each format hashing into its own space.
   */
  readonly identity: string;
  /**
   * Pinpoint: `application.app_id`, else `endpoint.ApplicationId`; Segment: `context.app.namespace`;
   * a mapping: its `appId`; else the empty string.
   */
  readonly appId: string;
  readonly userId: string;
  /** `endpoint.Id`, else `client.client_id`, when present: the endpoint a sink may address. */
  readonly endpointId?: string;
  readonly eventType: string;
  /** The event's time, epoch milliseconds (Pinpoint's `event_timestamp`). */
  readonly timestamp: number;
  /** Only the string-valued attributes; filters compare strings. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Metrics in the order the JSON text lists them, values as exact decimal text. */
  readonly metrics: ReadonlyArray<readonly [name: string, value: string]>;
}

/**
 * The largest record read, in bytes of UTF-8: 1 MiB, Kinesis's limit on a record. A longer one is
 * skipped as `too_large` before it is parsed, so that no single record can stall a reader.
 */
export const MAX_RECORD_BYTES = 1_048_576;

/** In the order they are checked: the first failing check decides (docs/rules.md section 2). */
export const SKIP_REASONS = [
  "too_large",
  "bad_json",
  "bad_event",
  "no_user",
  "bad_timestamp",
  "bad_metric",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

/** Outcome of reading one record: every record lands in exactly one of these. */
export type RecordOutcome =
  | { readonly kind: "event"; readonly event: PiaEvent }
  /** `eventType`: the ignored event type, or a Segment call's type (`identify`, `page`, ...). */
  | { readonly kind: "ignored"; readonly eventType: string }
  | { readonly kind: "skipped"; readonly reason: SkipReason; readonly detail: string };
