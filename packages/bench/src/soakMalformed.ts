/** The kinds of bad record the soak mixes in, besides those the sample generator writes itself. */
export const SOAK_MALFORMED_KINDS = [
  "garbage",
  "truncated",
  "not_an_object",
  "no_event_type",
  "no_user",
  "bad_timestamp",
  "bad_metric",
] as const;
export type SoakMalformedKind = (typeof SOAK_MALFORMED_KINDS)[number];

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `line` parsed, or a stand-in when the generator's own line is already broken. */
function parseOrStandIn(line: string): JsonObject {
  try {
    const parsed: unknown = JSON.parse(line);
    if (isObject(parsed)) return parsed;
  } catch {
    // One of the generator's malformed lines: any record shape will do as a base.
  }
  return { event_type: "pageview", event_timestamp: 0, endpoint: { User: { UserId: "customer-0" } } };
}

/**
 * A bad copy of `line` (a good record, usually): one the pipeline must quarantine and the engine
 * skip, never count. Never blank, and never with a lone surrogate (UTF-8 would turn it into U+FFFD
 * on the way through Kinesis, and the two sides would no longer read the same text).
 */
export function malformLine(line: string, kind: SoakMalformedKind, random: () => number): string {
  const record = parseOrStandIn(line);
  switch (kind) {
    case "garbage":
      return `\u0001garbage ${Math.floor(random() * 1e9).toString(36)} {{`;
    case "truncated": {
      const text = JSON.stringify(record);
      // A proper prefix of an object's JSON text is never valid JSON: the closing brace is last.
      return text.slice(0, 1 + Math.floor(random() * (text.length - 1)));
    }
    case "not_an_object":
      return [JSON.stringify([record]), "42", '"pageview"', "null", "true"][
        Math.floor(random() * 5)
      ] as string;
    case "no_event_type": {
      const { event_type: _dropped, ...rest } = record;
      return JSON.stringify(rest);
    }
    case "no_user": {
      const endpoint = isObject(record.endpoint) ? record.endpoint : {};
      return JSON.stringify({ ...record, endpoint: { ...endpoint, User: { UserAttributes: {} } } });
    }
    case "bad_timestamp":
      return JSON.stringify({ ...record, event_timestamp: random() < 0.5 ? -1 : 1.5 });
    case "bad_metric": {
      const metrics = isObject(record.metrics) ? record.metrics : {};
      return JSON.stringify({ ...record, metrics: { ...metrics, price: "many" } });
    }
  }
}
