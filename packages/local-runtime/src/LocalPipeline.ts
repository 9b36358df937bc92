import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type AggregateCounts, buildAggregateHandler } from "@pia/aggregate";
import { buildRulesTable, DEFAULTS, type RulesTable, type RulesTableOptions } from "@pia/aws";
import type { EventMapping, InputFormat, Rule } from "@pia/core";
import { buildIngestHandler, type IngestCounts } from "@pia/ingest";
import { type LocalStack, startLocalStack } from "@pia/local-stack";
import { buildNotifyHandler, buildOneSink, type NotifyCounts, type SinkConfig } from "@pia/notifier";
import { type BackfillCounts, buildScheduleHandler, type RollingCounts } from "@pia/timeseries";
import { DynamoDbStreamMapping } from "./DynamoDbStreamMapping.js";
import type { GivenUp } from "./deliverWithRetries.js";
import { parseEventFilter } from "./eventFilter.js";
import {
  type FaultKind,
  type FaultState,
  type Faults,
  type HandlerFaults,
  injectDynamoDbFaults,
  injectSendFaults,
  injectSinkFaults,
  newFaultState,
  sumInjected,
} from "./faults.js";
import { KinesisMapping } from "./KinesisMapping.js";
import { LocalSchedule } from "./LocalSchedule.js";
import { SqsMapping } from "./SqsMapping.js";
import { emptyTally, type RequestTally, tallyDynamoDb, tallySqs } from "./tallyRequests.js";
import { teeSink } from "./teeSink.js";

export interface LocalPipelineOptions {
  readonly rules: readonly Rule[];
  /** The file sink's NDJSON output: every notification delivered, whatever the sink. */
  readonly out: string;
  /**
   * Deliver to this sink as well as to `out` (default: the file only). Its AWS client follows
   * the SDK's endpoint variables (`AWS_ENDPOINT_URL_PINPOINT`, …), so an emulator can stand in.
   */
  readonly sink?: SinkConfig;
  /** Records per Kinesis batch (default: the ingest mapping's, `DEFAULTS.ingest.kinesisBatchSize`). */
  readonly kinesisBatchSize?: number;
  /** Records per stream batch (default: the aggregate mapping's, `DEFAULTS.aggregate.streamBatchSize`). */
  readonly streamBatchSize?: number;
  /** Retries of a failing Kinesis or stream batch before it is given up (default: the mappings'). */
  readonly maximumRetryAttempts?: number;
  /** Failures to inject, per source. */
  readonly faults?: Faults;
  /** Called with the number of records fed so far, after each Kinesis batch. */
  readonly onProgress?: (records: number) => void;
  /**
   * Ingest writes the events table's `byTypeDay` index (`PREVIEW_INDEX=true`), which rule previews
   * query and backfill jobs discover users through: a run that backfills (rules pushed with
   * backfill after events were stored) must set it, or only users with a later matching event
   * (merged by aggregate) or a held counter (the sweep) get their history. Off by default, as on
   * a deployed stage, so that the measured costs are the default deploy's; `pia local --ui` sets it.
   */
  readonly previewIndex?: boolean;
  /** The records' format, as ingest's `INPUT_FORMAT` (default `auto`). */
  readonly inputFormat?: InputFormat;
  /** With `json`: the mapping, as ingest's `INPUT_MAPPING`. */
  readonly inputMapping?: EventMapping;
  /**
   * The handlers' clock, epoch ms (default: the real time): ingest's arrival stamps, aggregate's
   * rule cache and backfill checks. Tests step it to put events before or after an instant.
   */
  readonly clock?: () => number;
  /**
   * Days ingest keeps an event (default: `DEFAULTS.ingest.eventRetentionDays`). A clock set years
   * back needs more: DynamoDB Local's TTL deletes by the real time.
   */
  readonly eventRetentionDays?: number;
  /** How long aggregate caches the rules (default: `DEFAULTS.aggregate.rulesCacheSeconds`). */
  readonly rulesCacheSeconds?: number;
  /**
   * The backfill job's delays (default: the deployed ones) and the index pages it reads per
   * schedule run (default: as many as the run's time allows); tests stretch and slice them.
   */
  readonly backfill?: {
    readonly liveDelaySeconds?: number;
    readonly settleSeconds?: number;
    readonly pagesPerRun?: number;
  };
}

export interface LocalRunSummary {
  readonly blankLines: number;
  readonly ingest: Totals<IngestCounts>;
  readonly aggregate: Totals<AggregateCounts>;
  readonly notify: Totals<NotifyCounts>;
  /** The schedule's rolling job, over every run: states due, advanced, parked, notifications. */
  readonly rolling: Totals<RollingCounts>;
  /** The schedule's backfill job, over every run: jobs advanced, users merged, events read. */
  readonly backfill: Totals<BackfillCounts>;
  /** Batches given up after the last retry (Lambda's on-failure destination), by source. */
  readonly onFailure: { kinesis: number; stream: number; lastError?: string };
  /** Failures injected (`faults`), duplicated batches and redelivered messages included. */
  readonly faultsInjected: number;
  readonly faultsByKind: Readonly<Record<FaultKind, number>>;
  /** Messages in the notifications DLQ. */
  readonly deadLetters: number;
  /** What the four handlers cost: DynamoDB requests and capacity units, SQS requests. */
  readonly cost: RequestTally;
  /** Since `start` was called (the stack's start included). */
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

/** What the pipeline's parts are wired to; built once by `start`. */
interface Parts {
  readonly stack: LocalStack;
  readonly kinesis: KinesisMapping;
  readonly stream: DynamoDbStreamMapping;
  readonly queue: SqsMapping;
  readonly schedule: LocalSchedule;
  readonly totals: Record<
    "ingest" | "aggregate" | "notify" | "rolling" | "backfill",
    Record<string, unknown>
  >;
  readonly onFailure: LocalRunSummary["onFailure"];
  readonly cost: RequestTally;
  /** The handlers' own clients, destroyed at `stop`. */
  readonly clients: ReadonlyArray<{ destroy(): void }>;
  readonly started: number;
}

/**
 * The four services' real handlers on the local stack (DynamoDB Local, a local SQS), wired by the
 * event sources Lambda would give them: a Kinesis mapping into ingest, the events table's stream
 * mapping into aggregate, the notifications queue's mapping into the notifier, and the schedule
 * into timeseries. The caller owns its lifetime: `start` it, `feed` it records, `drain` it,
 * `runSchedule`, read its `summary`, feed it more, and `stop` it (or `await using`), which stops
 * every process it started; those die with the Node process too.
 */
export class LocalPipeline implements AsyncDisposable {
  readonly #parts: Parts;
  #blankLines = 0;
  #stopped: Promise<void> | undefined;

  private constructor(parts: Parts) {
    this.#parts = parts;
  }

  /** Starts the local stack, pushes the rules and wires the handlers; stops the stack if that fails. */
  static async start(options: LocalPipelineOptions): Promise<LocalPipeline> {
    const started = performance.now();
    const stack = await startLocalStack({ prefix: `pia-${randomUUID().slice(0, 8)}` });
    try {
      return new LocalPipeline(await wire(stack, options, started));
    } catch (error: unknown) {
      await stack.stop();
      throw error;
    }
  }

  /** The running stack: its tables, queues and endpoints (the rules API serves from them). */
  get stack(): LocalStack {
    return this.#parts.stack;
  }

  /**
   * Puts records on the Kinesis stream, one Pinpoint event-stream JSON a line (blank lines are
   * not records), and hands ingest each batch as it fills; `drain` delivers the rest.
   */
  async feed(lines: AsyncIterable<string> | Iterable<string>): Promise<void> {
    this.#checkRunning();
    await this.#parts.kinesis.feed(this.#records(lines));
  }

  /** Runs every source until nothing is left to do: Kinesis, then the events stream, then the queue. */
  async drain(): Promise<void> {
    this.#checkRunning();
    const { kinesis, stream, queue } = this.#parts;
    await kinesis.drain();
    await stream.drain();
    await queue.drain();
  }

  /** Runs the schedule at `now` (epoch ms), then delivers the notifications it decided. */
  async runSchedule(now: number): Promise<void> {
    this.#checkRunning();
    await this.#parts.schedule.run(now);
    await this.#parts.queue.drain();
  }

  /** The totals so far: a copy, which later rounds do not change. */
  async summary(): Promise<LocalRunSummary> {
    this.#checkRunning();
    const { stack, kinesis, stream, queue, schedule, totals, onFailure, cost, started } = this.#parts;
    const dlq = await stack.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.queues.notifications.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    const faultsByKind = sumInjected([kinesis, stream, queue, schedule].map((source) => source.faultState));
    return structuredClone({
      blankLines: this.#blankLines,
      ingest: totals.ingest as LocalRunSummary["ingest"],
      aggregate: totals.aggregate as LocalRunSummary["aggregate"],
      notify: totals.notify as LocalRunSummary["notify"],
      rolling: totals.rolling as LocalRunSummary["rolling"],
      backfill: totals.backfill as LocalRunSummary["backfill"],
      onFailure,
      faultsInjected: Object.values(faultsByKind).reduce((total, n) => total + n, 0),
      faultsByKind,
      deadLetters: (dlq.Messages ?? []).length,
      cost,
      elapsedMs: performance.now() - started,
    });
  }

  /** The stack's rules table, as `pia rules push` writes it (a test changes the rules mid-run). */
  rulesTable(options: RulesTableOptions = {}): RulesTable {
    this.#checkRunning();
    const { stack } = this.#parts;
    return buildRulesTable(
      DynamoDBDocumentClient.from(stack.clients.dynamodb),
      stack.tableNames.rules,
      options,
    );
  }

  /** Destroys the handlers' clients and stops the stack's processes; idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      for (const client of this.#parts.clients) client.destroy();
      await this.#parts.stack.stop();
    })();
    return this.#stopped;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #checkRunning(): void {
    if (this.#stopped !== undefined) throw new Error("the local pipeline was stopped: start another one");
  }

  async *#records(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string> {
    for await (const line of lines) {
      if (line.trim() === "") this.#blankLines++;
      else yield line;
    }
  }
}

/** Each source's handler gets clients of its own: counted, and faulty as that source's faults say. */
function handlerClients(
  stack: LocalStack,
  cost: RequestTally,
  faults: HandlerFaults & { failSendEvery?: number },
  state: FaultState,
) {
  const config = { region: stack.region, credentials: stack.credentials };
  const dynamodb = new DynamoDBClient({ ...config, endpoint: stack.dynamoEndpoint });
  tallyDynamoDb(dynamodb, cost);
  injectDynamoDbFaults(dynamodb, faults, state);
  const sqs = new SQSClient({ ...config, endpoint: stack.sqsEndpoint });
  tallySqs(sqs, cost);
  injectSendFaults(sqs, faults, state);
  return { dynamodb, documents: DynamoDBDocumentClient.from(dynamodb), sqs };
}

async function wire(stack: LocalStack, options: LocalPipelineOptions, started: number): Promise<Parts> {
  const faults = options.faults ?? {};
  await buildRulesTable(DynamoDBDocumentClient.from(stack.clients.dynamodb), stack.tableNames.rules).put([
    ...options.rules,
  ]);
  const { tableNames, queues, region } = stack;
  const streamArn = stack.streamArns.events;
  if (streamArn === undefined) throw new Error("the local events table has no stream");
  const cost = emptyTally();
  const logger = new Logger({ logLevel: "SILENT" });
  const totals: Parts["totals"] = { ingest: {}, aggregate: {}, notify: {}, rolling: {}, backfill: {} };
  const onFailure: LocalRunSummary["onFailure"] = { kinesis: 0, stream: 0 };
  const destination = (source: "kinesis" | "stream") => (failure: GivenUp) => {
    onFailure[source]++;
    if (failure.lastError !== undefined) onFailure.lastError = failure.lastError;
  };
  const state = {
    kinesis: newFaultState(),
    stream: newFaultState(),
    queue: newFaultState(),
    schedule: newFaultState(),
  };
  const clients = {
    kinesis: handlerClients(stack, cost, faults.kinesis ?? {}, state.kinesis),
    stream: handlerClients(stack, cost, faults.stream ?? {}, state.stream),
    queue: handlerClients(stack, cost, faults.queue ?? {}, state.queue),
    schedule: handlerClients(stack, cost, faults.schedule ?? {}, state.schedule),
  };

  const ingest = buildIngestHandler({
    config: {
      eventsTable: tableNames.events,
      quarantineTable: tableNames.quarantine,
      eventRetentionDays: options.eventRetentionDays ?? DEFAULTS.ingest.eventRetentionDays,
      quarantineRetentionDays: DEFAULTS.ingest.quarantineRetentionDays,
      previewIndex: options.previewIndex === true,
      ...(options.inputFormat === undefined ? {} : { inputFormat: options.inputFormat }),
      ...(options.inputMapping === undefined ? {} : { inputMapping: options.inputMapping }),
    },
    dynamodb: clients.kinesis.documents,
    logger,
    ...(options.clock === undefined ? {} : { now: options.clock }),
    onCounts: (counts) => addCounts(totals.ingest, counts),
  });
  const aggregate = buildAggregateHandler({
    config: {
      countersTable: tableNames.counters,
      rulesTable: tableNames.rules,
      eventsTable: tableNames.events,
      notificationsQueueUrl: queues.notifications.url,
      rulesCacheSeconds: options.rulesCacheSeconds ?? DEFAULTS.aggregate.rulesCacheSeconds,
    },
    dynamodb: clients.stream.documents,
    sqs: clients.stream.sqs,
    logger,
    ...(options.clock === undefined ? {} : { now: options.clock }),
    onCounts: (counts) => addCounts(totals.aggregate, counts),
  });
  const schedule = buildScheduleHandler({
    config: {
      countersTable: tableNames.counters,
      rulesTable: tableNames.rules,
      eventsTable: tableNames.events,
      notificationsQueueUrl: queues.notifications.url,
      backfillLiveDelaySeconds:
        options.backfill?.liveDelaySeconds ??
        (options.rulesCacheSeconds ?? DEFAULTS.aggregate.rulesCacheSeconds) +
          DEFAULTS.timeseries.backfillLiveMarginSeconds,
      backfillSettleSeconds: options.backfill?.settleSeconds ?? DEFAULTS.timeseries.backfillSettleSeconds,
    },
    dynamodb: clients.schedule.documents,
    sqs: clients.schedule.sqs,
    logger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.backfill?.pagesPerRun === undefined
      ? {}
      : { backfillPagesPerRun: options.backfill.pagesPerRun }),
    onCounts: (counts) => {
      addCounts(totals.rolling, counts.rolling);
      addCounts(totals.backfill, counts.backfill);
    },
  });
  const fileSink = () => buildOneSink({ name: "file", path: options.out });
  const chosenSink =
    options.sink === undefined || options.sink.name === "file"
      ? undefined
      : teeSink(buildOneSink(options.sink), fileSink());
  const queueFaults = faults.queue ?? {};
  const sink =
    queueFaults.throttleSinkEvery === undefined
      ? chosenSink
      : injectSinkFaults(chosenSink ?? fileSink(), queueFaults, state.queue);
  const notify = buildNotifyHandler({
    config: {
      sink: { name: "file", path: options.out },
      sinks: [{ name: "file", path: options.out }],
      deliveredTable: tableNames.delivered,
      deliveredRetentionDays: DEFAULTS.notifier.deliveredRetentionDays,
      deadLetterQueueUrl: queues.notifications.dlqUrl,
    },
    dynamodb: clients.queue.documents,
    sqs: clients.queue.sqs,
    logger,
    ...(sink === undefined ? {} : { sink }),
    onCounts: (counts) => addCounts(totals.notify, counts),
  });

  return {
    stack,
    kinesis: new KinesisMapping({
      handler: ingest,
      functionName: "pia-local-ingest",
      region,
      batchSize: options.kinesisBatchSize ?? DEFAULTS.ingest.kinesisBatchSize,
      maximumRetryAttempts: options.maximumRetryAttempts ?? DEFAULTS.ingest.maximumRetryAttempts,
      onFailure: destination("kinesis"),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      faults: faults.kinesis ?? {},
      faultState: state.kinesis,
    }),
    stream: new DynamoDbStreamMapping({
      handler: aggregate,
      functionName: "pia-local-aggregate",
      region,
      streams: stack.clients.streams,
      dynamodb: stack.clients.dynamodb,
      tableName: tableNames.events,
      streamArn,
      batchSize: options.streamBatchSize ?? DEFAULTS.aggregate.streamBatchSize,
      maximumRetryAttempts: options.maximumRetryAttempts ?? DEFAULTS.aggregate.maximumRetryAttempts,
      // The aggregate function's FilterCriteria in services/aggregate/serverless.yml, from the same table.
      filters: [parseEventFilter(DEFAULTS.aggregate.streamFilterPattern)],
      onFailure: destination("stream"),
      faults: faults.stream ?? {},
      faultState: state.stream,
    }),
    queue: new SqsMapping({
      handler: notify,
      functionName: "pia-local-notifier",
      region,
      sqs: stack.clients.sqs,
      queueUrl: queues.notifications.url,
      queueArn: queues.notifications.arn,
      batchSize: DEFAULTS.notifier.queueBatchSize,
      faults: queueFaults,
      faultState: state.queue,
    }),
    schedule: new LocalSchedule({
      handler: schedule,
      functionName: "pia-local-timeseries",
      region,
      faultState: state.schedule,
    }),
    totals,
    onFailure,
    cost,
    clients: Object.values(clients).flatMap(({ dynamodb, sqs }) => [dynamodb, sqs]),
    started,
  };
}
