/**
 * Notifications expected (the engine) against notifications delivered (the pipeline's file), as a
 * multiset of NDJSON lines: a line delivered twice, or never, stays out of balance.
 */
export class SoakBalance {
  /** Line -> expected minus delivered; lines in balance are dropped, so this stays small. */
  readonly #open = new Map<string, number>();
  #expected = 0;
  #delivered = 0;

  expect(lines: Iterable<string>): void {
    for (const line of lines) {
      this.#expected++;
      this.#add(line, 1);
    }
  }

  deliver(lines: Iterable<string>): void {
    for (const line of lines) {
      this.#delivered++;
      this.#add(line, -1);
    }
  }

  get expected(): number {
    return this.#expected;
  }

  get delivered(): number {
    return this.#delivered;
  }

  /** Expected, not delivered (lost). */
  get missing(): number {
    let total = 0;
    for (const n of this.#open.values()) if (n > 0) total += n;
    return total;
  }

  /** Delivered, not expected (doubled or wrong). */
  get extra(): number {
    let total = 0;
    for (const n of this.#open.values()) if (n < 0) total -= n;
    return total;
  }

  /** Up to `max` lines out of balance, each with how many are missing (+) or extra (-). */
  samples(max: number): Array<[string, number]> {
    return [...this.#open].slice(0, max);
  }

  #add(line: string, n: number): void {
    const next = (this.#open.get(line) ?? 0) + n;
    if (next === 0) this.#open.delete(line);
    else this.#open.set(line, next);
  }
}
