import { parseArgs } from "node:util";
import { UsageError } from "@pia/aws/usageError";

/** Flag name -> kind: `string` takes a value, `boolean` does not. */
export type FlagSpec = Readonly<Record<string, "string" | "boolean">>;
export type FlagValues<T extends FlagSpec> = { [K in keyof T]?: T[K] extends "boolean" ? boolean : string };

/**
 * Parses a command's flags strictly (no positionals, no unknown flags); `pnpm x -- --flag` passes
 * the `--` through, so a leading one is dropped. Any problem is a `UsageError`. `--help` lists the
 * flags and exits 0, after the other flags were checked.
 */
export function parseFlags<const T extends FlagSpec>(argv: readonly string[], spec: T): FlagValues<T> {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  const withHelp: FlagSpec = { ...spec, help: "boolean" };
  const options = Object.fromEntries(Object.entries(withHelp).map(([name, type]) => [name, { type }]));
  let values: Record<string, unknown>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (values.help === true) {
    const flags = Object.entries(spec).map(([name, type]) =>
      type === "string" ? `--${name} VALUE` : `--${name}`,
    );
    process.stdout.write(`flags: ${flags.join(" ")} (the script's header comment says what they do)\n`);
    process.exit(0);
  }
  return values as FlagValues<T>;
}

/** A whole-number flag (`20000` or `20_000`), at least `min`; `fallback` when absent. */
export function wholeNumberFlag(name: string, text: string | undefined, fallback: number, min = 1): number {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll("_", ""));
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** The flags of a bench over generated sample records: `--events N --users U --days D --json FILE`. */
export interface SampleBenchFlags {
  readonly events: number;
  /** Default: events / 20, at least 10. */
  readonly users: number;
  readonly days: number;
  readonly json: string | undefined;
}

export function sampleBenchFlags(
  argv: readonly string[],
  defaults: { events: number; days: number },
): SampleBenchFlags {
  const flags = parseFlags(argv, { events: "string", users: "string", days: "string", json: "string" });
  const events = wholeNumberFlag("events", flags.events, defaults.events);
  return {
    events,
    users: wholeNumberFlag("users", flags.users, Math.max(10, Math.round(events / 20))),
    days: wholeNumberFlag("days", flags.days, defaults.days),
    json: flags.json,
  };
}
