/** Milliseconds in a UTC day. */
export const DAY_MS = 86_400_000;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Epoch milliseconds of 00:00 UTC of a real calendar date written exactly `YYYY-MM-DD`;
 * `undefined` for anything else (`2021-02-29`, `2021-13-01`, `2021-1-1`, a time, spaces...).
 */
export function parseStrictDate(text: string): number | undefined {
  const match = DATE.exec(text);
  if (match === null) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Date.UTC maps the years 0-99 to 1900-1999; setUTCFullYear does not.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  return date.getTime();
}

const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Epoch milliseconds of an RFC 3339 date-time (the ISO 8601 profile Segment and most libraries
 * write): `YYYY-MM-DDTHH:MM:SS`, an optional fraction of 1-9 digits, then `Z` or `±HH:MM`. The date
 * must be real, the time and the offset in range (hours 00-23, minutes and seconds 00-59, so no leap
 * second); digits past the millisecond are dropped (the time rounds down), since pia keeps
 * milliseconds. `undefined` for anything else: no zone, a space or `t` for `T`, `+0200`, a bare date.
 */
export function parseIsoDateTime(text: string): number | undefined {
  if (text.length > 40) return undefined;
  const match = DATE_TIME.exec(text);
  if (match === null) return undefined;
  const day = parseStrictDate(match[1] as string);
  const hours = Number(match[2]);
  const minutes = Number(match[3]);
  const seconds = Number(match[4]);
  if (day === undefined || hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const millis = match[5] === undefined ? 0 : Number(match[5].slice(0, 3).padEnd(3, "0"));
  let offset = 0;
  if (match[6] !== undefined) {
    const offsetHours = Number(match[7]);
    const offsetMinutes = Number(match[8]);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offset = (match[6] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  return day + ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis - offset;
}
