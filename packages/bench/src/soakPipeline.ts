import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, Engine, type EngineSummary, formatNotification, parseRulesCsv } from "@pia/core";
import { type FaultKind, type Faults, LocalPipeline, type LocalRunSummary } from "@pia/local-runtime";
import { generateSampleRulesCsv } from "@pia/sample";
import { rollingVersions } from "./sampleRules.js";
import { SoakBalance } from "./soakBalance.js";
import { generateSoakRound, type SoakRoundSettings } from "./soakRound.js";
import { SoakTail } from "./soakTail.js";

/** In every source: DynamoDB writes that fail after they were applied, and throttled requests. */
const DYNAMODB_FAULTS = { failAfterWriteEvery: 13, throttleDynamoDbEvery: 17 } as const;

/** Every fault the local runtime can inject, in every source it applies to, often enough that a short soak meets each. */
export const SOAK_FAULTS: Faults = {
  kinesis: { ...DYNAMODB_FAULTS, duplicateBatches: true, crashMidBatchEvery: 4 },
  stream: { ...DYNAMODB_FAULTS, duplicateBatches: true, crashMidBatchEvery: 4, failSendEvery: 2 },
  queue: { ...DYNAMODB_FAULTS, redeliverMessages: true, crashMidBatchEvery: 4, throttleSinkEvery: 3 },
  schedule: { ...DYNAMODB_FAULTS, failSendEvery: 2 },
};

export interface SoakOptions extends SoakRoundSettings {
  /** No round starts once this much time has passed since the soak started, ms. */
  readonly durationMs?: number;
  /** No more rounds than this. Without `durationMs` nor `rounds`, one round. */
  readonly rounds?: number;
  readonly faults?: Faults;
  /**
   * Times the clock advances in a round (default 3): the round's records are fed in as many slices,
   * and after each the schedule runs at the end of the slice's share of the round's days, so that
   * users enter and leave rolling windows across runs.
   */
  readonly stepsPerRound?: number;
  /** Called after each round has drained and been compared. */
  readonly onRound?: (progress: SoakProgress) => void;
}

export interface SoakProgress {
  readonly round: number;
  readonly records: number;
  readonly expected: number;
  readonly delivered: number;
  readonly missing: number;
  readonly extra: number;
  readonly faultsInjected: number;
  readonly elapsedMs: number;
}

export interface SoakResult {
  readonly rounds: number;
  /** Lines fed, malformed ones included. */
  readonly records: number;
  /** How the engine read them (the same for the pipeline): applied, duplicate, ignored, skipped. */
  readonly engine: EngineSummary;
  readonly pipeline: LocalRunSummary;
  readonly faultsByKind: Readonly<Record<FaultKind | "malformedRecord", number>>;
  readonly expected: number;
  /** Of `expected`, those of rolling rules (with a `seq`), and of these the exits (`value: ""`). */
  readonly rollingExpected: { readonly all: number; readonly exits: number };
  readonly delivered: number;
  /** Notifications the engine gave and the pipeline did not (lost), at the end. */
  readonly missing: number;
  /** Notifications the pipeline delivered beyond the engine's (doubled or wrong), at the end. */
  readonly extra: number;
  /** `missing` + `extra`: must be 0. */
  readonly mismatches: number;
  /** Rounds after which the two sides differed: each round is drained before it is compared. */
  readonly roundsMismatched: number;
  /**
   * No mismatch at the end nor after any round, no batch given up, no dead letter: a batch given
   * up could lose events that no notification depended on yet.
   */
  readonly clean: boolean;
  /** Some lines out of balance: + missing, - extra. */
  readonly samples: Array<[string, number]>;
  readonly elapsedMs: number;
}

/** The soak's rolling rules: every sample rule again, over the last 7 days, with ids and names of its own. */
export const SOAK_ROLLING_WINDOW = "7d";

/**
 * Soaks the local pipeline: round after round of fresh records, with faults injected all along,
 * through one long-running pipeline (one stack, one stream position), and after each round compares
 * every notification delivered so far with what the in-memory engine (`pia simulate`) gives on the
 * same records. The rules cover every kind of rule: the sample's lifetime, reset, window and closing
 * rules, and each again as a rolling window (`_7d`), whose entries and exits the clock's steps
 * decide (the engine is closed at the same instants as the schedule runs).
 */
export async function soakPipeline(options: SoakOptions): Promise<SoakResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const sample = parseRulesCsv(generateSampleRulesCsv()).rules;
  const rules = [...sample, ...rollingVersions(sample, SOAK_ROLLING_WINDOW, "_7d")];
  const steps = Math.max(1, options.stepsPerRound ?? 3);
  const engine = new Engine(rules);
  const balance = new SoakBalance();
  const dir = await mkdtemp(join(tmpdir(), "pia-soak-"));
  const out = join(dir, "notifications.ndjson");
  const tail = new SoakTail(out);
  const maxRounds = options.rounds ?? (options.durationMs === undefined ? 1 : Number.POSITIVE_INFINITY);
  let round = 0;
  let records = 0;
  let malformed = 0;
  let roundsMismatched = 0;
  const rolling = { all: 0, exits: 0 };

  const more = () =>
    round < maxRounds && (options.durationMs === undefined || elapsed() < options.durationMs);

  // One long-running pipeline (one stack, one stream position), fed and drained round after round.
  let pipeline: LocalPipeline | undefined;
  try {
    pipeline = await LocalPipeline.start({
      rules,
      out,
      kinesisBatchSize: 200,
      streamBatchSize: 100,
      faults: options.faults ?? SOAK_FAULTS,
    });
    while (more()) {
      const { lines, now, malformed: bad } = generateSoakRound(options, round);
      const from = now - options.daysPerRound * DAY_MS;
      for (let step = 1; step <= steps; step++) {
        const slice = lines.slice(
          Math.floor((lines.length * (step - 1)) / steps),
          Math.floor((lines.length * step) / steps),
        );
        const at = step === steps ? now : from + Math.floor(((now - from) * step) / steps);
        const expect = (lines: string[]) => {
          for (const line of lines) {
            if (!line.includes('"seq":')) continue;
            rolling.all++;
            if (line.includes('"value":""')) rolling.exits++;
          }
          balance.expect(lines);
        };
        for (const line of slice) expect(engine.ingest(line).map(formatNotification));
        expect(engine.close(at).map(formatNotification));
        await pipeline.feed(slice);
        await pipeline.drain();
        await pipeline.runSchedule(at);
      }
      records += lines.length;
      malformed += bad;
      balance.deliver(await tail.readNewLines());
      round++;
      if (balance.missing + balance.extra > 0) roundsMismatched++;
      const summary = await pipeline.summary();
      options.onRound?.({
        round,
        records,
        expected: balance.expected,
        delivered: balance.delivered,
        missing: balance.missing,
        extra: balance.extra,
        faultsInjected: summary.faultsInjected + malformed,
        elapsedMs: elapsed(),
      });
    }
    const summary = await pipeline.summary();
    const mismatches = balance.missing + balance.extra;
    const { onFailure, deadLetters } = summary;
    return {
      rounds: round,
      records,
      engine: engine.summary(),
      pipeline: summary,
      faultsByKind: { ...summary.faultsByKind, malformedRecord: malformed },
      expected: balance.expected,
      rollingExpected: rolling,
      delivered: balance.delivered,
      missing: balance.missing,
      extra: balance.extra,
      mismatches,
      roundsMismatched,
      clean: mismatches + roundsMismatched + onFailure.kinesis + onFailure.stream + deadLetters === 0,
      samples: balance.samples(5),
      elapsedMs: elapsed(),
    };
  } finally {
    await pipeline?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
