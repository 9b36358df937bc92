import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { DEFAULTS } from "./defaults.js";

/**
 * The tables of the pipeline, written once as CloudFormation `AWS::DynamoDB::Table` properties
 * (without names, billing and encryption, which each stage sets). The local stack creates its
 * tables from these; the services' `serverless.yml` use the same definitions.
 */
export interface TableDefinition {
  /** What the table holds and why it is keyed this way. */
  readonly purpose: string;
  readonly KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: "HASH" | "RANGE" }>;
  readonly AttributeDefinitions: ReadonlyArray<{ AttributeName: string; AttributeType: "S" | "N" }>;
  readonly GlobalSecondaryIndexes?: ReadonlyArray<{
    IndexName: string;
    KeySchema: ReadonlyArray<{ AttributeName: string; KeyType: "HASH" | "RANGE" }>;
    Projection: { ProjectionType: "ALL" | "KEYS_ONLY" | "INCLUDE"; NonKeyAttributes?: readonly string[] };
  }>;
  readonly StreamSpecification?: { StreamViewType: "NEW_IMAGE" };
  /** Attribute holding the epoch-seconds expiry, when items expire. */
  readonly ttlAttribute?: string;
}

/** Most tables are keyed by a string partition key `pk` and a string sort key `sk`. */
const PK_SK = [
  { AttributeName: "pk", KeyType: "HASH" },
  { AttributeName: "sk", KeyType: "RANGE" },
] as const;
const PK_SK_STRINGS = [
  { AttributeName: "pk", AttributeType: "S" },
  { AttributeName: "sk", AttributeType: "S" },
] as const;

export const TABLES = {
  events: {
    purpose:
      "The time series of applied events. pk = the user (app and user id), sk = the event identity. Items are written once, first write wins: ingest puts an item only if none has its key (a conditional put), so a redelivered or duplicated event writes nothing, the stream carries each event once (with the content counted), and all of a user's events share one stream shard, in order. `arrivedAt` (epoch ms, absent on items stored before it was written) is when the item was first stored; it never changes, so the stream and a query of the table see the same boundary. The `byTypeDay` index (keyed by `typeDay` = `<eventType>#<UTC day>`, then the user) serves rule previews by query; it is sparse: ingest writes `typeDay` only when deployed with PREVIEW_INDEX=true, items without it are not in the index and cost nothing there, and each item with it costs about one write unit more (its copy in the index) and its size again in storage.",
    KeySchema: PK_SK,
    AttributeDefinitions: [...PK_SK_STRINGS, { AttributeName: "typeDay", AttributeType: "S" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: "byTypeDay",
        KeySchema: [
          { AttributeName: "typeDay", KeyType: "HASH" },
          { AttributeName: "pk", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ],
    StreamSpecification: { StreamViewType: "NEW_IMAGE" },
    ttlAttribute: "expiresAt",
  },
  counters: {
    purpose:
      "Per-user rule counters: pk = the user, sk = the rule's counter key. The `byRule` index (keyed by `counterKey`, which every counter carries) serves closing decisions and the cleanup of removed rules by query. A rolling window (docs/rules.md 4.4) keeps a summary at the counter's key (totals, no event list) and one small window item per applied matching event under `<counterKey>#w#<born>#<time>#<seq>` (no `counterKey`, so not in `byRule`; collected by TTL, `expiresAt`). The sparse `byDue` index (keyed by `dueShard`, `due#0`..`due#<dueShards-1>` or `parked#<counterKey>`, then `dueAt`, epoch ms) holds only the summaries whose next expiry is pending: the rolling job queries what is due, never a scan.",
    KeySchema: PK_SK,
    AttributeDefinitions: [
      ...PK_SK_STRINGS,
      { AttributeName: "counterKey", AttributeType: "S" },
      { AttributeName: "dueShard", AttributeType: "S" },
      { AttributeName: "dueAt", AttributeType: "N" },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: "byRule",
        KeySchema: [
          { AttributeName: "counterKey", KeyType: "HASH" },
          { AttributeName: "pk", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
      {
        IndexName: "byDue",
        KeySchema: [
          { AttributeName: "dueShard", KeyType: "HASH" },
          { AttributeName: "dueAt", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "KEYS_ONLY" },
      },
    ],
    ttlAttribute: "expiresAt",
  },
  rules: {
    purpose:
      "Canonical rules (docs/rules.md section 1.1): pk = a constant partition, sk = the rule id; read by query, paged. The same table holds each rule's versions (a partition per rule id), the registry of counter keys and the closing decisions; `buildRulesTable` (src/rulesTable/) owns every key and attribute.",
    KeySchema: PK_SK,
    AttributeDefinitions: PK_SK_STRINGS,
  },
  quarantine: {
    purpose:
      "Skipped records, kept inspectable with their raw payload and reason: pk = reason and UTC day, sk = arrival order and source position. Items expire.",
    KeySchema: PK_SK,
    AttributeDefinitions: PK_SK_STRINGS,
    ttlAttribute: "expiresAt",
  },
  delivered: {
    purpose:
      "Ids of notifications a sink has applied, so a redelivered SQS message is not applied twice, and per rolling-window stream (pk = `order#<stream>`) the highest seq delivered, so a stream is delivered in order and never an older notification after a newer one. Items expire.",
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
    AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
    ttlAttribute: "expiresAt",
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof TABLES;

/** CreateTable input for one table, on-demand, with its stream; TTL is a separate call. */
export function toCreateTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    KeySchema: definition.KeySchema.map((key) => ({ ...key })),
    AttributeDefinitions: definition.AttributeDefinitions.map((attribute) => ({ ...attribute })),
    ...(definition.GlobalSecondaryIndexes === undefined
      ? {}
      : {
          GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes.map((index) => ({
            IndexName: index.IndexName,
            KeySchema: index.KeySchema.map((key) => ({ ...key })),
            Projection: {
              ProjectionType: index.Projection.ProjectionType,
              ...(index.Projection.NonKeyAttributes === undefined
                ? {}
                : { NonKeyAttributes: [...index.Projection.NonKeyAttributes] }),
            },
          })),
        }),
    ...(definition.StreamSpecification === undefined
      ? {}
      : {
          StreamSpecification: {
            StreamEnabled: true,
            StreamViewType: definition.StreamSpecification.StreamViewType,
          },
        }),
  };
}

/** The queues: notifications decided by aggregate and timeseries, consumed by the notifier. */
export const QUEUES = {
  notifications: {
    purpose: "Notifications to deliver to a sink; a message that keeps failing moves to the DLQ.",
    maxReceiveCount: DEFAULTS.notifier.maxReceiveCount,
    visibilityTimeoutSeconds: DEFAULTS.notifier.visibilityTimeoutSeconds,
  },
} as const;
export type QueueName = keyof typeof QUEUES;
