import table from "./defaults.json" with { type: "json" };

/**
 * The services' tunable settings, with the values they take when the deployer gives none. They
 * are written once, in `defaults.json`, because three readers need the same numbers: the
 * handlers' `loadConfig` (the fallback of each environment variable), each `serverless.yml`
 * (`${file(../../packages/aws/src/defaults.json):<service>}`: the parameters' fallbacks and the
 * event source mappings) and the local runtime, which plays those mappings. JSON, not TypeScript,
 * so that the Serverless Framework can read it.
 */
export interface Defaults {
  readonly ingest: {
    /** Days an applied event is kept (`EVENT_RETENTION_DAYS`). */
    readonly eventRetentionDays: number;
    /** Days a skipped record is kept in quarantine (`QUARANTINE_RETENTION_DAYS`). */
    readonly quarantineRetentionDays: number;
    /** Records per Kinesis batch of the ingest mapping. */
    readonly kinesisBatchSize: number;
    /** Retries of a failing Kinesis batch before it goes to the on-failure destination. */
    readonly maximumRetryAttempts: number;
  };
  readonly aggregate: {
    /** How long rules are cached between reads of the rules table (`RULES_CACHE_SECONDS`). */
    readonly rulesCacheSeconds: number;
    /** Records per batch of the events table's stream mapping. */
    readonly streamBatchSize: number;
    /** Retries of a failing stream batch before it goes to the on-failure destination. */
    readonly maximumRetryAttempts: number;
    /** The stream mapping's filter (a Lambda event filter pattern, as JSON text): new events only. */
    readonly streamFilterPattern: string;
  };
  readonly timeseries: {
    /** Minutes between two runs of the schedule (closing rules, cleanup, and rolling expiries too). */
    readonly scheduleMinutes: number;
    /** Minutes between two runs of the rolling job alone (expiries of rolling windows that are due). */
    readonly rollingMinutes: number;
    /**
     * Backfill (docs/rules.md section 9): seconds from setting a backfill's boundary to the
     * boundary beyond aggregate's `rulesCacheSeconds` (`BACKFILL_LIVE_DELAY_SECONDS` is their sum
     * unless set): every aggregate container must have loaded the rule before the boundary.
     */
    readonly backfillLiveMarginSeconds: number;
    /**
     * Seconds from the boundary to `settledAt` (`BACKFILL_SETTLE_SECONDS`): longer than ingest's
     * longest write (its Lambda timeout, 60 s), so that every event stamped before the boundary is
     * stored by then.
     */
    readonly backfillSettleSeconds: number;
    /** Seconds after `settledAt` before the job reads the `byTypeDay` index (its propagation). */
    readonly backfillSweepMarginSeconds: number;
  };
  /** The counters table's layout, shared by its writers (aggregate, timeseries); not per deploy. */
  readonly counters: {
    /**
     * Partitions of the `byDue` index (rolling states with a pending expiry): the rolling job
     * queries each. Changing it strands the states written under the old count until their next event.
     */
    readonly dueShards: number;
    /** Days a window item outlives its event's expiry (or its write, if later) before TTL collects it. */
    readonly windowItemMarginDays: number;
  };
  readonly notifier: {
    /** Days a delivered notification id is remembered (`DELIVERED_RETENTION_DAYS`). */
    readonly deliveredRetentionDays: number;
    /** Messages per batch of the notifications queue's mapping (SQS allows at most 10 per receive). */
    readonly queueBatchSize: number;
    /** Receives of a message before the queue moves it to its dead-letter queue. */
    readonly maxReceiveCount: number;
    /** The notifications queue's visibility timeout. */
    readonly visibilityTimeoutSeconds: number;
  };
}

export const DEFAULTS: Defaults = table;
