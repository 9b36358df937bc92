import type { Rule } from "../src/index.js";

export const APP = "app-1";

export interface RecordSpec {
  type?: string;
  user?: string | null;
  app?: string;
  endpoint?: string;
  ts?: number | string;
  attributes?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  eventId?: string | number;
  session?: string;
  arrival?: number;
}

/** A Pinpoint event-stream record as one NDJSON line. */
export function record(spec: RecordSpec = {}): string {
  const ts = spec.ts ?? Date.UTC(2021, 0, 15);
  const user = spec.user === undefined ? "user-1" : spec.user;
  return JSON.stringify({
    ...(spec.eventId === undefined ? {} : { event_id: spec.eventId }),
    event_type: spec.type ?? "purchase",
    event_timestamp: ts,
    arrival_timestamp: spec.arrival ?? (typeof ts === "number" ? ts + 500 : 0),
    event_version: "3.1",
    application: { app_id: spec.app ?? APP, sdk: {} },
    client: { client_id: spec.endpoint ?? "ep-1" },
    session: { session_id: spec.session ?? "s-1" },
    attributes: spec.attributes ?? {},
    metrics: spec.metrics ?? {},
    endpoint: {
      Id: spec.endpoint ?? "ep-1",
      ApplicationId: spec.app ?? APP,
      ChannelType: "APNS",
      ...(user === null ? {} : { User: { UserId: user } }),
    },
  });
}

/** A canonical rule with defaults: an attribute action named after the id. */
export function rule(spec: Partial<Rule> & Pick<Rule, "id" | "event">): Rule {
  return {
    action: { type: "attribute", name: spec.id, value: "Ready" },
    reset: false,
    enabled: true,
    ...spec,
  };
}

export function utc(iso: string): number {
  const ms = Date.parse(iso.endsWith("Z") ? iso : `${iso}Z`);
  if (Number.isNaN(ms)) throw new RangeError(iso);
  return ms;
}
