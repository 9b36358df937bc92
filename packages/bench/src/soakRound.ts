import { DAY_MS } from "@pia/core";
import { generateSampleEvents, mulberry32 } from "@pia/sample";
import { malformLine, SOAK_MALFORMED_KINDS } from "./soakMalformed.js";

/** The sample rules' windows lie in 2021's first half: the soak starts where they do. */
const START = Date.UTC(2021, 0, 1);
/** One bad record mixed in per this many records (the generator writes 0.5% more of its own). */
const MALFORMED_EVERY = 50;

export interface SoakRoundSettings {
  readonly seed: number;
  readonly eventsPerRound: number;
  readonly daysPerRound: number;
}

export interface SoakRound {
  /** The round's records, malformed ones included, in the order both sides read them. */
  readonly lines: string[];
  /** The schedule's clock after the round: the first instant after its days. */
  readonly now: number;
  /** Malformed records the soak mixed in. */
  readonly malformed: number;
}

/**
 * Round `index` of a soak: fresh sample records (seed `seed + index`) over the round's own days,
 * each round later than the one before, so closing windows close part-way through the soak and no
 * event is ever late for a decided window. The user range grows by a quarter of the first round's
 * each round: the same users come back, with counters built up by earlier rounds, and new ones
 * join. Event ids are prefixed with the round, since the generator may give one id to two users of
 * different rounds, which the pipeline (per user) and the engine (global) would de-duplicate
 * differently.
 */
export function generateSoakRound(settings: SoakRoundSettings, index: number): SoakRound {
  const { seed, eventsPerRound, daysPerRound } = settings;
  const from = START + index * daysPerRound * DAY_MS;
  const firstUsers = Math.max(5, Math.ceil(eventsPerRound / 20));
  const users = firstUsers + index * Math.ceil(firstUsers / 4);
  const random = mulberry32(seed * 7919 + index);
  const lines: string[] = [];
  let malformed = 0;
  for (const line of generateSampleEvents({
    users,
    events: eventsPerRound,
    seed: seed + index,
    from: new Date(from).toISOString().slice(0, 10),
    days: daysPerRound,
  })) {
    const own = line.replace('"event_id":"', `"event_id":"r${index}-`);
    if (random() * MALFORMED_EVERY < 1) {
      const kind = SOAK_MALFORMED_KINDS[malformed % SOAK_MALFORMED_KINDS.length] ?? "garbage";
      lines.push(malformLine(own, kind, random));
      malformed++;
    }
    lines.push(own);
  }
  return { lines, now: from + daysPerRound * DAY_MS, malformed };
}
