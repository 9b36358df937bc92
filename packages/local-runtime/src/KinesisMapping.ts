import { lambdaContext } from "@pia/aws";
import type { KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { deliverWithRetries, type GivenUp } from "./deliverWithRetries.js";
import { type FaultState, type KinesisFaults, newFaultState } from "./faults.js";
import type { LambdaHandler } from "./LambdaHandler.js";

export interface KinesisMappingOptions {
  readonly handler: LambdaHandler<KinesisStreamEvent>;
  readonly functionName: string;
  readonly region: string;
  /** Records per batch (`BatchSize`). */
  readonly batchSize: number;
  /** Retries of a failing batch before it is given up (`MaximumRetryAttempts`). */
  readonly maximumRetryAttempts: number;
  /** The on-failure destination: told of every batch given up. */
  readonly onFailure?: (failure: GivenUp) => void;
  /** Called with the number of records put so far, after each batch delivered. */
  readonly onProgress?: (records: number) => void;
  readonly faults?: KinesisFaults;
  /** This source's fault counters (default: its own). */
  readonly faultState?: FaultState;
}

/** Kinesis's sequence numbers are decimal strings of this many digits. */
const SEQUENCE_DIGITS = 56;
/** What every sequence number of the emulated shard starts with, as a real shard's share a prefix. */
const SEQUENCE_PREFIX = "4959";

/**
 * The `n`th record's sequence number on the emulated shard: unique and increasing, compared as
 * numbers or as strings (fixed width), as on a Kinesis shard. Handlers key on them: item failures
 * name records by them, and ingest's quarantine keys include them.
 */
export function kinesisSequenceNumber(n: bigint): string {
  return `${SEQUENCE_PREFIX}${n.toString().padStart(SEQUENCE_DIGITS - SEQUENCE_PREFIX.length, "0")}`;
}

/**
 * One Kinesis shard and Lambda's event source mapping on it: records put on the shard are handed
 * to the handler in batches of `batchSize`, in order, one batch at a time, each retried as Lambda
 * does (item failures, whole-batch errors, on-failure after `maximumRetryAttempts`). It lives as
 * long as its owner keeps it: `feed` puts more records (delivering each batch as it fills),
 * `drain` delivers what is left; sequence numbers go on growing from one feed to the next.
 */
export class KinesisMapping {
  readonly #options: KinesisMappingOptions;
  readonly #faultState: FaultState;
  #pending: KinesisStreamRecord[] = [];
  #sequence = 0n;

  constructor(options: KinesisMappingOptions) {
    this.#options = options;
    this.#faultState = options.faultState ?? newFaultState();
  }

  /** Records put on the shard so far. */
  get recordsPut(): number {
    return Number(this.#sequence);
  }

  get faultState(): FaultState {
    return this.#faultState;
  }

  /** Puts each record (its data, as UTF-8 text) on the shard; delivers every batch that fills. */
  async feed(records: AsyncIterable<string> | Iterable<string>): Promise<void> {
    for await (const data of records) {
      this.#pending.push(this.#record(data));
      if (this.#pending.length >= this.#options.batchSize) {
        await this.#deliver(this.#pending.splice(0, this.#options.batchSize));
        this.#options.onProgress?.(this.recordsPut);
      }
    }
  }

  /** Delivers every record put and not delivered yet. */
  async drain(): Promise<void> {
    while (this.#pending.length > 0) await this.#deliver(this.#pending.splice(0, this.#options.batchSize));
    this.#options.onProgress?.(this.recordsPut);
  }

  #record(data: string): KinesisStreamRecord {
    this.#sequence++;
    const sequenceNumber = kinesisSequenceNumber(this.#sequence);
    return {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: "pinpoint",
        sequenceNumber,
        data: Buffer.from(data, "utf8").toString("base64"),
        approximateArrivalTimestamp: Date.now() / 1000,
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: `shardId-000000000000:${sequenceNumber}`,
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::000000000000:role/local",
      awsRegion: this.#options.region,
      eventSourceARN: `arn:aws:kinesis:${this.#options.region}:000000000000:stream/pinpoint-local`,
    };
  }

  async #deliver(records: KinesisStreamRecord[]): Promise<void> {
    const { handler, functionName, faults = {} } = this.#options;
    const givenUp = await deliverWithRetries(
      records,
      (batch) => handler({ Records: batch }, lambdaContext(functionName)),
      {
        maximumRetryAttempts: this.#options.maximumRetryAttempts,
        sequenceOf: (record) => record.kinesis.sequenceNumber,
        faults,
        faultState: this.#faultState,
        ...(faults.duplicateBatches === true ? { duplicate: "duplicateKinesisBatch" as const } : {}),
      },
    );
    if (givenUp !== undefined) this.#options.onFailure?.(givenUp);
  }
}
