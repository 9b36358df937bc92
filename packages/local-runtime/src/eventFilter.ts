/**
 * A Lambda event filter pattern (`FilterCriteria.Filters[].Pattern`), as far as the pipeline uses
 * them: each key names a field of the record; an array lists the values that match (exact
 * equality), an object goes down into a nested field. A record matches when every key matches.
 */
export type EventFilterPattern = { readonly [field: string]: EventFilterPattern | readonly Primitive[] };
type Primitive = string | number | boolean | null;

/** A pattern the local runtime cannot apply the way Lambda would; saying so beats filtering differently. */
export class UnsupportedEventFilterError extends Error {
  override readonly name = "UnsupportedEventFilterError";
}

const isPrimitive = (value: unknown): value is Primitive =>
  value === null || ["string", "number", "boolean"].includes(typeof value);

function checkPattern(value: unknown, path: string): EventFilterPattern {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new UnsupportedEventFilterError(`${path || "the pattern"} must be an object of fields`);
  for (const [field, condition] of Object.entries(value)) {
    const at = path === "" ? field : `${path}.${field}`;
    if (Array.isArray(condition)) {
      const operator = condition.find((item) => !isPrimitive(item));
      if (operator !== undefined)
        throw new UnsupportedEventFilterError(
          `${at}: ${JSON.stringify(operator)} is a filter operator (prefix, numeric, exists, …) that the local runtime does not apply; list exact values, or teach eventFilter.ts the operator`,
        );
    } else checkPattern(condition, at);
  }
  return value as EventFilterPattern;
}

/** Parses a pattern as `serverless.yml` writes it (JSON text); throws for what it cannot apply. */
export function parseEventFilter(text: string): EventFilterPattern {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error: unknown) {
    throw new UnsupportedEventFilterError(`the filter pattern is not JSON: ${text}`, { cause: error });
  }
  return checkPattern(parsed, "");
}

/** Whether Lambda would pass `record` to the function under `pattern`. */
export function matchesEventFilter(pattern: EventFilterPattern, record: unknown): boolean {
  const fields = (typeof record === "object" && record !== null ? record : {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([field, condition]) => {
    const value = fields[field];
    if (Array.isArray(condition)) return isPrimitive(value) && condition.includes(value);
    return matchesEventFilter(condition as EventFilterPattern, value);
  });
}
