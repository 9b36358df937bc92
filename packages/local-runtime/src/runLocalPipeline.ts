import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from "@aws-sdk/client-dynamodb-streams";
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type AggregateCounts, buildAggregateHandler } from "@pia/aggregate";
import { buildRulesTable, lambdaContext } from "@pia/aws";
import type { Rule } from "@pia/core";
import { buildIngestHandler, type IngestCounts } from "@pia/ingest";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import { buildNotifyHandler, buildOneSink, type NotifyCounts, type SinkConfig } from "@pia/notifier";
import { buildScheduleHandler } from "@pia/timeseries";
import type { DynamoDBStreamEvent, KinesisStreamEvent, ScheduledEvent, SQSEvent } from "aws-lambda";
import {
  crashesMidBatch,
  type FaultKind,
  type Faults,
  InjectedFaultError,
  injectDynamoDbFaults,
  injectSendFaults,
  injectSinkFaults,
  newFaultState,
} from "./faults.js";
import { emptyTally, type RequestTally, tallyDynamoDb, tallySqs } from "./tallyRequests.js";
import { teeSink } from "./teeSink.js";

/** Records fed to the pipeline, then drained: the stream, the queue, the schedule at `now`, the queue. */
export interface LocalRound {
  /** Raw records, one Pinpoint event-stream JSON each (blank lines are not records). */
  readonly lines: AsyncIterable<string> | Iterable<string>;
  /** The schedule's clock, epoch ms. */
  readonly now: number;
}

/**
 * Rounds fed one after the other to the same stack, tables, stream position and handlers: a
 * pipeline that keeps running, as in production, rather than one started for a single input.
 */
export interface LocalRounds {
  readonly rounds: AsyncIterable<LocalRound> | Iterable<LocalRound>;
  /** Called once each round has drained, with the totals so far; the next round waits for it. */
  readonly onRound?: (summary: LocalRunSummary) => Promise<void> | void;
}

export type LocalRunOptions = LocalRunSettings & (LocalRound | LocalRounds);

export interface LocalRunSettings {
  readonly rules: readonly Rule[];
  /** The file sink's NDJSON output: every notification delivered, whatever the sink. */
  readonly out: string;
  /**
   * Deliver to this sink as well as to `out` (default: the file only). Its AWS client follows
   * the SDK's endpoint variables (`AWS_ENDPOINT_URL_PINPOINT`, …), so an emulator can stand in.
   */
  readonly sink?: SinkConfig;
  /** Records per Kinesis batch (the ingest mapping's batch size). */
  readonly kinesisBatchSize?: number;
  /** Records per stream batch (the aggregate mapping's batch size). */
  readonly streamBatchSize?: number;
  /** Attempts per batch before it goes to the on-failure destination. */
  readonly maxAttempts?: number;
  readonly faults?: Faults;
  /** Called with the number of records fed so far. */
  readonly onProgress?: (records: number) => void;
  /** Ingest writes the events table's preview index (`PREVIEW_INDEX=true`), which rule previews query. */
  readonly previewIndex?: boolean;
  /**
   * Called once the last round has drained, with the running stack and the summary; the stack
   * stops, and the run returns that summary, when it settles (`pia local --ui` serves meanwhile).
   */
  readonly onDrained?: (stack: LocalStack, summary: LocalRunSummary) => Promise<void>;
}

export interface LocalRunSummary {
  readonly blankLines: number;
  readonly ingest: Totals<IngestCounts>;
  readonly aggregate: Totals<AggregateCounts>;
  readonly notify: Totals<NotifyCounts>;
  /** Batches given up after `maxAttempts` (Lambda's on-failure destination), by source. */
  readonly onFailure: { kinesis: number; stream: number; lastError?: string };
  /** Failures injected (`faults`), duplicated batches and redelivered messages included. */
  readonly faultsInjected: number;
  readonly faultsByKind: Readonly<Record<FaultKind, number>>;
  /** Rounds fed and drained. */
  readonly rounds: number;
  /** Messages in the notifications DLQ at the end. */
  readonly deadLetters: number;
  /** What the four handlers cost: DynamoDB requests and capacity units, SQS requests. */
  readonly cost: RequestTally;
  readonly elapsedMs: number;
}

type Totals<T> = { -readonly [K in keyof T]: T[K] extends number ? number : Record<string, number> };

function addCounts<T extends object>(totals: Record<string, unknown>, counts: T): void {
  for (const [key, value] of Object.entries(counts)) {
    if (typeof value === "number") totals[key] = ((totals[key] as number | undefined) ?? 0) + value;
    else if (typeof value === "object" && value !== null) {
      const nested = (totals[key] as Record<string, number> | undefined) ?? {};
      for (const [inner, n] of Object.entries(value as Record<string, number>)) {
        nested[inner] = (nested[inner] ?? 0) + n;
      }
      totals[key] = nested;
    }
  }
}

/**
 * Runs the pipeline on the local stack: starts DynamoDB Local and SQS, pushes the rules, feeds the
 * records to the real ingest handler as Kinesis batches, then plays Lambda's event source
 * mappings (the events table's stream to aggregate, the queue to the notifier: batch sizes, item
 * failures, retries, DLQ) and the schedule (timeseries at `now`), until everything is drained;
 * with `rounds`, once per round. Every process it started is stopped when it returns or throws.
 */
export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunSummary> {
  const started = performance.now();
  const stack = await startLocalStack({ prefix: `pia-${randomUUID().slice(0, 8)}` });
  try {
    return await runOnStack(stack, options, started);
  } finally {
    await stack.stop();
  }
}

async function runOnStack(
  stack: LocalStack,
  options: LocalRunOptions,
  started: number,
): Promise<LocalRunSummary> {
  const faults = options.faults ?? {};
  const maxAttempts = options.maxAttempts ?? 10;
  const clientConfig = { region: stack.region, credentials: stack.credentials };
  const admin = DynamoDBDocumentClient.from(stack.clients.dynamodb);
  await buildRulesTable(admin, stack.tableNames.rules).put([...options.rules]);

  // The handlers' own clients: counted, and where asked, faulty.
  const cost = emptyTally();
  const faultState = newFaultState();
  const handlerDynamo = new DynamoDBClient({ ...clientConfig, endpoint: stack.dynamoEndpoint });
  tallyDynamoDb(handlerDynamo, cost);
  injectDynamoDbFaults(handlerDynamo, faults, faultState);
  const dynamodb = DynamoDBDocumentClient.from(handlerDynamo);
  const deciderSqs = new SQSClient({ ...clientConfig, endpoint: stack.sqsEndpoint });
  tallySqs(deciderSqs, cost);
  injectSendFaults(deciderSqs, faults, faultState);
  const notifierSqs = new SQSClient({ ...clientConfig, endpoint: stack.sqsEndpoint });
  tallySqs(notifierSqs, cost);
  const logger = new Logger({ logLevel: "SILENT" });

  const totals = { ingest: {}, aggregate: {}, notify: {} } as Record<string, Record<string, unknown>>;
  const { tableNames, queues } = stack;
  const queueUrl = queues.notifications.url;
  const ingest = buildIngestHandler({
    config: {
      eventsTable: tableNames.events,
      quarantineTable: tableNames.quarantine,
      eventRetentionDays: 400,
      quarantineRetentionDays: 14,
      previewIndex: options.previewIndex === true,
    },
    dynamodb,
    logger,
    onCounts: (counts) => addCounts(totals.ingest as Record<string, unknown>, counts),
  });
  const aggregate = buildAggregateHandler({
    config: {
      countersTable: tableNames.counters,
      rulesTable: tableNames.rules,
      notificationsQueueUrl: queueUrl,
      rulesCacheSeconds: 60,
    },
    dynamodb,
    sqs: deciderSqs,
    logger,
    onCounts: (counts) => addCounts(totals.aggregate as Record<string, unknown>, counts),
  });
  const schedule = buildScheduleHandler({
    config: {
      countersTable: tableNames.counters,
      rulesTable: tableNames.rules,
      notificationsQueueUrl: queueUrl,
    },
    dynamodb,
    sqs: deciderSqs,
    logger,
  });
  const fileSink = () => buildOneSink({ name: "file", path: options.out });
  const chosenSink =
    options.sink === undefined || options.sink.name === "file"
      ? undefined
      : teeSink(buildOneSink(options.sink), fileSink());
  const sink =
    faults.throttleSinkEvery === undefined
      ? chosenSink
      : injectSinkFaults(chosenSink ?? fileSink(), faults, faultState);
  const notify = buildNotifyHandler({
    config: {
      sink: { name: "file", path: options.out },
      sinks: [{ name: "file", path: options.out }],
      deliveredTable: tableNames.delivered,
      deliveredRetentionDays: 14,
      deadLetterQueueUrl: queues.notifications.dlqUrl,
    },
    dynamodb,
    sqs: notifierSqs,
    logger,
    ...(sink === undefined ? {} : { sink }),
    onCounts: (counts) => addCounts(totals.notify as Record<string, unknown>, counts),
  });

  const onFailure: LocalRunSummary["onFailure"] = { kinesis: 0, stream: 0 };

  /** Lambda's retry loop: a thrown error retries the batch; item failures retry from the lowest. */
  async function deliver<R>(
    records: R[],
    sequenceOf: (record: R) => string,
    invoke: (records: R[]) => Promise<{ batchItemFailures: { itemIdentifier: string }[] } | undefined>,
    source: "kinesis" | "stream",
    twice: boolean,
  ): Promise<void> {
    let pending = records;
    let duplicated = false;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > maxAttempts) {
        onFailure[source]++;
        return;
      }
      let failures: { itemIdentifier: string }[];
      faultState.armed = attempt === 1;
      try {
        if (crashesMidBatch(faults, faultState)) await crashHalfway(pending, invoke);
        failures = (await invoke(pending))?.batchItemFailures ?? [];
        // The first invocation that gets through is delivered again, whatever failed before it.
        if (twice && !duplicated) {
          duplicated = true;
          faultState.injected[source === "kinesis" ? "duplicateKinesisBatch" : "duplicateStreamBatch"]++;
          failures = (await invoke(pending))?.batchItemFailures ?? [];
        }
      } catch (error: unknown) {
        if (attempt === maxAttempts)
          onFailure.lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        continue;
      }
      if (failures.length === 0) return;
      const failed = new Set(failures.map((failure) => failure.itemIdentifier));
      const first = pending.findIndex((record) => failed.has(sequenceOf(record)));
      pending = first === -1 ? pending : pending.slice(first);
    }
  }

  // 1. Kinesis -> ingest. Sequence numbers keep growing from round to round, as on a shard.
  const kinesisBatchSize = options.kinesisBatchSize ?? 500;
  let blankLines = 0;
  let sequence = 0;
  const feedKinesis = async (lines: LocalRound["lines"]) => {
    let batch: KinesisStreamEvent["Records"] = [];
    const flushKinesis = async () => {
      const records = batch;
      batch = [];
      await deliver(
        records,
        (record) => record.kinesis.sequenceNumber,
        (records) => ingest({ Records: records }, lambdaContext("pia-local-ingest")),
        "kinesis",
        faults.duplicateKinesisBatches === true,
      );
    };
    for await (const line of lines) {
      if (line.trim() === "") {
        blankLines++;
        continue;
      }
      sequence++;
      batch.push({
        kinesis: {
          kinesisSchemaVersion: "1.0",
          partitionKey: "pinpoint",
          sequenceNumber: String(sequence).padStart(21, "4"),
          data: Buffer.from(line, "utf8").toString("base64"),
          approximateArrivalTimestamp: Date.now() / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `shardId-000000000000:${sequence}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: "arn:aws:iam::000000000000:role/local",
        awsRegion: stack.region,
        eventSourceARN: "arn:aws:kinesis:us-east-1:000000000000:stream/pinpoint-local",
      });
      if (batch.length >= kinesisBatchSize) {
        await flushKinesis();
        options.onProgress?.(sequence);
      }
    }
    if (batch.length > 0) await flushKinesis();
    options.onProgress?.(sequence);
  };

  // 2. The events table's stream -> aggregate, until caught up. The shard iterators are kept from
  // round to round: each round reads on from where the previous one stopped.
  const streamBatchSize = options.streamBatchSize ?? 1000;
  const streamArn = stack.streamArns.events;
  if (streamArn === undefined) throw new Error("the local events table has no stream");
  const iterators = new Map<string, string | undefined>();
  const markerPk = "\u0000pia-local-drain";
  const isMarker = (record: StreamRecord) => record.dynamodb?.Keys?.pk?.S === markerPk;
  /** Reads every shard as far as it goes; true when the record with key `marker` came through. */
  const readShards = async (marker: string): Promise<boolean> => {
    let markerSeen = false;
    const description = await stack.clients.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    for (const shard of description.StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      if (!iterators.has(shardId)) {
        const output = await stack.clients.streams.send(
          new GetShardIteratorCommand({
            StreamArn: streamArn,
            ShardId: shardId,
            ShardIteratorType: "TRIM_HORIZON",
          }),
        );
        iterators.set(shardId, output.ShardIterator);
      }
      for (;;) {
        const iterator = iterators.get(shardId);
        if (iterator === undefined) break;
        const output = await stack.clients.streams.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: streamBatchSize }),
        );
        const records = output.Records ?? [];
        iterators.set(shardId, output.NextShardIterator);
        if (records.length === 0) break;
        if (records.some((record) => isMarker(record) && record.dynamodb?.Keys?.sk?.S === marker))
          markerSeen = true;
        const events = records.filter((record) => !isMarker(record));
        if (events.length === 0) continue;
        await deliver(
          events.map(toLambdaStreamRecord),
          (record) => record.dynamodb?.SequenceNumber ?? "",
          (records) => aggregate({ Records: records }, lambdaContext("pia-local-aggregate")),
          "stream",
          faults.duplicateStreamBatches === true,
        );
      }
    }
    return markerSeen;
  };
  const drainStream = async () => {
    // DynamoDB Streams (and DynamoDB Local's) show a write a moment later: the stream has caught up
    // once a marker written after the round's last record has come through. It is not passed on.
    const marker = randomUUID();
    await stack.clients.dynamodb.send(
      new PutItemCommand({ TableName: tableNames.events, Item: { pk: { S: markerPk }, sk: { S: marker } } }),
    );
    const streamDeadline = Date.now() + 60_000;
    while (!(await readShards(marker))) {
      if (Date.now() > streamDeadline)
        throw new Error("the local events stream did not catch up within 60 s");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  // 3. The queue -> notifier, until empty; 4. the schedule at `now`; then the queue again.
  const drainQueue = async () => {
    for (;;) {
      const received = await stack.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 30,
          // local-aws-sqs reads the older AttributeNames; AWS reads either.
          AttributeNames: ["All"],
          MessageSystemAttributeNames: ["All"],
        }),
      );
      const messages = received.Messages ?? [];
      if (messages.length === 0) return;
      const event: SQSEvent = {
        Records: messages.map((message) => ({
          messageId: message.MessageId ?? "",
          receiptHandle: message.ReceiptHandle ?? "",
          body: message.Body ?? "",
          attributes: (message.Attributes ?? {}) as SQSEvent["Records"][number]["attributes"],
          messageAttributes: {},
          md5OfBody: message.MD5OfBody ?? "",
          eventSource: "aws:sqs",
          eventSourceARN: queues.notifications.arn,
          awsRegion: stack.region,
        })),
      };
      const firstDelivery = (message: (typeof messages)[number]) =>
        message.Attributes?.ApproximateReceiveCount === "1";
      // Faults strike first receives only: a message fails at most once by them, long before its
      // last receive sends it to the DLQ.
      faultState.armed = messages.every(firstDelivery);
      let failed = new Set<string>();
      try {
        if (crashesMidBatch(faults, faultState))
          await crashHalfway(event.Records, (records) =>
            notify({ Records: records }, lambdaContext("pia-local-notifier")),
          );
        const response = await notify(event, lambdaContext("pia-local-notifier"));
        failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      } catch {
        failed = new Set(messages.map((message) => message.MessageId ?? ""));
      }
      const handled = messages.filter((message) => !failed.has(message.MessageId ?? ""));
      const redelivered =
        faults.redeliverMessages === true ? handled.filter(firstDelivery) : ([] as typeof messages);
      faultState.injected.redeliverMessage += redelivered.length;
      const done = handled.filter((message) => !redelivered.includes(message));
      const retry = messages.filter((message) => !done.includes(message));
      if (done.length > 0) {
        await stack.clients.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: done.map((message, index) => ({
              Id: `d${index}`,
              ReceiptHandle: message.ReceiptHandle ?? "",
            })),
          }),
        );
      }
      if (retry.length > 0) {
        await stack.clients.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: retry.map((message, index) => ({
              Id: `r${index}`,
              ReceiptHandle: message.ReceiptHandle ?? "",
              VisibilityTimeout: 0,
            })),
          }),
        );
      }
    }
  };
  const runSchedule = async (now: number) => {
    const scheduled: ScheduledEvent = {
      version: "0",
      id: randomUUID(),
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: "000000000000",
      time: new Date(now).toISOString(),
      region: stack.region,
      resources: [],
      detail: {},
    };
    for (let attempt = 1; ; attempt++) {
      faultState.armed = attempt === 1;
      try {
        await schedule(scheduled, lambdaContext("pia-local-timeseries"));
        return;
      } catch (error: unknown) {
        if (attempt >= maxAttempts) throw error;
      }
    }
  };

  let rounds = 0;
  const summarize = async (): Promise<LocalRunSummary> => {
    const dlq = await stack.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.notifications.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    // A copy: the totals go on changing in the rounds that follow.
    return structuredClone({
      blankLines,
      ingest: totals.ingest as LocalRunSummary["ingest"],
      aggregate: totals.aggregate as LocalRunSummary["aggregate"],
      notify: totals.notify as LocalRunSummary["notify"],
      onFailure,
      faultsInjected: Object.values(faultState.injected).reduce((total, n) => total + n, 0),
      faultsByKind: faultState.injected,
      rounds,
      deadLetters: (dlq.Messages ?? []).length,
      cost,
      elapsedMs: performance.now() - started,
    });
  };

  try {
    const all = "rounds" in options ? options.rounds : [{ lines: options.lines, now: options.now }];
    for await (const round of all) {
      await feedKinesis(round.lines);
      await drainStream();
      await drainQueue();
      await runSchedule(round.now);
      await drainQueue();
      rounds++;
      if ("rounds" in options) await options.onRound?.(await summarize());
    }
    const summary = await summarize();
    await options.onDrained?.(stack, summary);
    return summary;
  } finally {
    handlerDynamo.destroy();
    deciderSqs.destroy();
    notifierSqs.destroy();
  }
}

/** Handles the first half of a batch, then crashes, as a timed-out or killed invocation would. */
async function crashHalfway<R>(records: R[], invoke: (records: R[]) => Promise<unknown>): Promise<never> {
  const half = records.slice(0, Math.floor(records.length / 2));
  if (half.length > 0) await invoke(half);
  throw new InjectedFaultError(`injected: crash after ${half.length} of ${records.length} records`);
}

/** A GetRecords record as Lambda hands it to a function (dates as epoch seconds). */
function toLambdaStreamRecord(record: StreamRecord): DynamoDBStreamEvent["Records"][number] {
  const { dynamodb } = record;
  const created = dynamodb?.ApproximateCreationDateTime;
  return {
    ...(record.eventID === undefined ? {} : { eventID: record.eventID }),
    ...(record.eventName === undefined ? {} : { eventName: record.eventName }),
    eventSource: "aws:dynamodb",
    awsRegion: "us-east-1",
    dynamodb: {
      ...(dynamodb as object),
      ...(created === undefined ? {} : { ApproximateCreationDateTime: created.getTime() / 1000 }),
    } as NonNullable<DynamoDBStreamEvent["Records"][number]["dynamodb"]>,
  };
}
