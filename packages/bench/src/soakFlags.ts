import { parseArgs } from "node:util";
import { UsageError } from "@pia/aws/usageError";
import type { SoakOptions } from "./soakPipeline.js";

export const SOAK_USAGE = `usage: pnpm soak -- --minutes M [--rounds N] [--seed S] [--events-per-round E] [--days-per-round D]

Feeds the local pipeline round after round of fresh sample records, with faults injected all along
(duplicated batches, DynamoDB and sink throttling, failures after a write, crashes before a send
and mid-batch, SQS redelivery, malformed records), and checks after each round that it delivered
exactly the notifications of the in-memory engine (pia simulate) on the same records.

  --minutes M            start rounds until M minutes have passed (fractions welcome: 0.5)
  --rounds N             stop after N rounds (with --minutes: whichever comes first)
  --seed S               the first round's sample seed; round i uses S + i (default 1)
  --events-per-round E   records generated per round, before malformed ones (default 1000)
  --days-per-round D     days of event time per round; each round follows the last (default 20)

Exit codes: 0 no mismatch; 1 a mismatch, a batch given up or a dead letter; 2 invalid flags.`;

export type SoakFlags = Pick<
  SoakOptions,
  "seed" | "eventsPerRound" | "daysPerRound" | "durationMs" | "rounds"
>;

function wholeNumber<F extends number | undefined>(
  name: string,
  text: string | undefined,
  fallback: F,
  min: number,
): number | F {
  if (text === undefined) return fallback;
  const value = Number(text.replaceAll("_", ""));
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < min)
    throw new UsageError(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(text)}`);
  return value;
}

/** The soak's settings from its flags, or `"help"`; any problem is a `UsageError`. */
export function parseSoakFlags(argv: readonly string[]): SoakFlags | "help" {
  // `pnpm soak -- --minutes 2` passes the `--` through.
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        minutes: { type: "string" },
        rounds: { type: "string" },
        seed: { type: "string" },
        "events-per-round": { type: "string" },
        "days-per-round": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error: unknown) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (values.help === true) return "help";
  const text = (name: string) => values[name] as string | undefined;
  const minutesText = text("minutes");
  const minutes = minutesText === undefined ? undefined : Number(minutesText);
  if (minutes !== undefined && (minutesText?.trim() === "" || !Number.isFinite(minutes) || minutes <= 0))
    throw new UsageError(`--minutes must be a number > 0, got ${JSON.stringify(minutesText)}`);
  const rounds = wholeNumber("rounds", text("rounds"), undefined, 1);
  if (minutes === undefined && rounds === undefined)
    throw new UsageError("give --minutes M (how long to soak) or --rounds N; --help lists every flag");
  return {
    seed: wholeNumber("seed", text("seed"), 1, 0),
    eventsPerRound: wholeNumber("events-per-round", text("events-per-round"), 1000, 1),
    daysPerRound: wholeNumber("days-per-round", text("days-per-round"), 20, 1),
    ...(minutes === undefined ? {} : { durationMs: minutes * 60_000 }),
    ...(rounds === undefined ? {} : { rounds }),
  };
}
