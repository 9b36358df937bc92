import { Decimal as DecimalJs } from "decimal.js";

/**
 * Decimal numbers with DynamoDB's number semantics: up to 38 significant digits, computed from
 * the number's text so that 0.1 + 0.2 is exactly 0.3. Plain notation in the supported magnitude
 * range keeps stored and printed values readable.
 */
export const Decimal = DecimalJs.clone({
  precision: 38,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  toExpNeg: -130,
  toExpPos: 126,
});
export type Decimal = InstanceType<typeof Decimal>;

export const ZERO: Decimal = new Decimal(0);

/** A plain decimal as the rule formats write it: optional `-`, digits, optional fraction, no exponent. */
const PLAIN_DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/;

export function isPlainDecimal(text: string): boolean {
  return PLAIN_DECIMAL.test(text);
}

/** Parses a JSON number's text (exponent allowed) or a plain decimal. */
export function toDecimal(text: string | number): Decimal {
  return new Decimal(text);
}

/** The canonical text of a decimal value: `1`, `1.0` and `1e0` all give `1`. */
export function canonicalDecimal(value: Decimal): string {
  return value.toString();
}
