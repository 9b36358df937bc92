import { parseStrictDate } from "@pia/core";
import { UsageError } from "./errors.js";

const ISO =
  /^(\d{4}-\d{2}-\d{2})(?:T([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/** `--now`: an ISO date or time; without an offset it is UTC (never the machine's time zone). */
export function parseNow(text: string): number {
  const iso = text.trim();
  const match = ISO.exec(iso);
  if (match === null || parseStrictDate(match[1] ?? "") === undefined) {
    throw new UsageError(
      `--now: "${text}" is not a real ISO date or time; use e.g. 2021-03-01 or 2021-03-01T12:00:00Z`,
    );
  }
  const hasTime = match[2] !== undefined;
  const hasZone = match[3] !== undefined;
  const ms = Date.parse(hasTime && !hasZone ? `${iso}Z` : iso);
  if (Number.isNaN(ms)) throw new UsageError(`--now: "${text}" is not a real ISO date or time`);
  return ms;
}
