import { randomUUID } from "node:crypto";
import { type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import { lambdaContext } from "@pia/aws";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { deliverWithRetries, type GivenUp } from "./deliverWithRetries.js";
import { type EventFilterPattern, matchesEventFilter } from "./eventFilter.js";
import { type FaultState, newFaultState, type StreamFaults } from "./faults.js";
import type { LambdaHandler } from "./LambdaHandler.js";

export interface DynamoDbStreamMappingOptions {
  readonly handler: LambdaHandler<DynamoDBStreamEvent>;
  readonly functionName: string;
  readonly region: string;
  /** Reads the stream. */
  readonly streams: DynamoDBStreamsClient;
  /** Writes the drain marker to the table (not the handler's client: no faults, not counted). */
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly streamArn: string;
  /** Records per GetRecords, and so at most per batch (`BatchSize`). */
  readonly batchSize: number;
  /** Retries of a failing batch before it is given up (`MaximumRetryAttempts`). */
  readonly maximumRetryAttempts: number;
  /** `FilterCriteria`: a record reaches the handler when it matches one of them (all pass when none). */
  readonly filters?: readonly EventFilterPattern[];
  /** The on-failure destination: told of every batch given up. */
  readonly onFailure?: (failure: GivenUp) => void;
  readonly faults?: StreamFaults;
  /** This source's fault counters (default: its own). */
  readonly faultState?: FaultState;
}

/** The drain markers' partition key; markers are never passed on to the handler. */
const MARKER_PK = "\u0000pia-local-drain";
const DRAIN_TIMEOUT_MS = 60_000;
const POLL_INTERVAL_MS = 50;

/**
 * Lambda's event source mapping on a DynamoDB table's stream: every shard read from its trim
 * horizon, in order, in batches of at most `batchSize`, filtered by `filters`, each batch retried
 * as Lambda does (item failures, whole-batch errors, on-failure after `maximumRetryAttempts`).
 * The shard iterators live as long as the mapping: each `drain` reads on from where the last
 * one stopped, until it has caught up with every write made before it was called.
 */
export class DynamoDbStreamMapping {
  readonly #options: DynamoDbStreamMappingOptions;
  readonly #faultState: FaultState;
  readonly #iterators = new Map<string, string | undefined>();

  constructor(options: DynamoDbStreamMappingOptions) {
    this.#options = options;
    this.#faultState = options.faultState ?? newFaultState();
  }

  get faultState(): FaultState {
    return this.#faultState;
  }

  /** Hands every record written to the table so far to the handler. */
  async drain(): Promise<void> {
    // DynamoDB Streams (and DynamoDB Local's) show a write a moment later: the stream has caught up
    // once a marker written now has come through.
    const marker = randomUUID();
    await this.#options.dynamodb.send(
      new PutItemCommand({
        TableName: this.#options.tableName,
        Item: { pk: { S: MARKER_PK }, sk: { S: marker } },
      }),
    );
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while (!(await this.#readShards(marker))) {
      if (Date.now() > deadline)
        throw new Error(`the local events stream did not catch up within ${DRAIN_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  /** Reads every shard as far as it goes; true when the marker `marker` came through. */
  async #readShards(marker: string): Promise<boolean> {
    const { streams, streamArn, batchSize } = this.#options;
    let markerSeen = false;
    const description = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (!this.#iterators.has(shardId)) {
        const output = await streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: "TRIM_HORIZON",
          }),
        );
        this.#iterators.set(shardId, output.ShardIterator);
      }
      for (;;) {
        const iterator = this.#iterators.get(shardId);
        if (iterator === undefined) break;
        const output = await streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: batchSize }),
        );
        const records = output.Records ?? [];
        this.#iterators.set(shardId, output.NextShardIterator);
        if (records.length === 0) break;
        if (records.some((record) => isMarker(record) && record.dynamodb?.Keys?.sk?.S === marker))
          markerSeen = true;
        const events = records
          .filter((record) => !isMarker(record))
          .map((record) => toLambdaStreamRecord(record, this.#options.region))
          .filter((record) => this.#passes(record));
        if (events.length > 0) await this.#deliver(events);
      }
    }
    return markerSeen;
  }

  #passes(record: DynamoDBRecord): boolean {
    const { filters = [] } = this.#options;
    return filters.length === 0 || filters.some((pattern) => matchesEventFilter(pattern, record));
  }

  async #deliver(records: DynamoDBRecord[]): Promise<void> {
    const { handler, functionName, faults = {} } = this.#options;
    const givenUp = await deliverWithRetries(
      records,
      (batch) => handler({ Records: batch }, lambdaContext(functionName)),
      {
        maximumRetryAttempts: this.#options.maximumRetryAttempts,
        sequenceOf: (record) => record.dynamodb?.SequenceNumber ?? "",
        faults,
        faultState: this.#faultState,
        ...(faults.duplicateBatches === true ? { duplicate: "duplicateStreamBatch" as const } : {}),
      },
    );
    if (givenUp !== undefined) this.#options.onFailure?.(givenUp);
  }
}

function isMarker(record: StreamRecord): boolean {
  return record.dynamodb?.Keys?.pk?.S === MARKER_PK;
}

/** A GetRecords record as Lambda hands it to a function (dates as epoch seconds). */
function toLambdaStreamRecord(record: StreamRecord, region: string): DynamoDBRecord {
  const { dynamodb } = record;
  const created = dynamodb?.ApproximateCreationDateTime;
  return {
    ...(record.eventID === undefined ? {} : { eventID: record.eventID }),
    ...(record.eventName === undefined ? {} : { eventName: record.eventName }),
    eventSource: "aws:dynamodb",
    awsRegion: region,
    dynamodb: {
      ...(dynamodb as object),
      ...(created === undefined ? {} : { ApproximateCreationDateTime: created.getTime() / 1000 }),
    } as NonNullable<DynamoDBRecord["dynamodb"]>,
  };
}
