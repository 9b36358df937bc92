import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBStreamsClient } from "@aws-sdk/client-dynamodb-streams";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  QUEUES,
  type QueueName,
  TABLES,
  type TableDefinition,
  type TableName,
  toCreateTableInput,
} from "@pia/aws";
import { LocalStackError } from "./LocalStackError.js";
import { startDynamoDbLocal } from "./startDynamoDbLocal.js";
import { startLocalSqs } from "./startLocalSqs.js";

export interface LocalQueue {
  readonly url: string;
  readonly arn: string;
  /** Where a message lands after `maxReceiveCount` receives without a delete. */
  readonly dlqUrl: string;
}

/** DynamoDB Local and a local SQS with every table and queue of the pipeline, and clients for them. */
export interface LocalStack {
  readonly region: "us-east-1";
  /** Dummy credentials: nothing checks them, but the SDK needs some. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  /** The DynamoDB Local java process, for diagnostics. */
  readonly dynamoDbPid: number;
  readonly tableNames: Readonly<Record<TableName, string>>;
  /** Latest stream ARN of each table that has a stream. */
  readonly streamArns: Readonly<Partial<Record<TableName, string>>>;
  readonly queues: Readonly<Record<QueueName, LocalQueue>>;
  /** Configured for the local endpoints; destroyed by `stop()`. */
  readonly clients: {
    readonly dynamodb: DynamoDBClient;
    readonly streams: DynamoDBStreamsClient;
    readonly sqs: SQSClient;
  };
  /** Destroys the clients and stops both servers; idempotent. */
  stop(): Promise<void>;
}

const REGION = "us-east-1";
// DynamoDB Local accepts only letters and digits in access keys.
const CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;

/**
 * Starts DynamoDB Local and a local SQS in parallel, then creates every table of `TABLES` as
 * `${prefix}-${name}` (with TTL where defined) and every queue of `QUEUES` as `${prefix}-${name}`
 * with its DLQ `${prefix}-${name}-dlq`. If any step fails, whatever was started is stopped before
 * the error propagates; whatever happens, the processes die with this Node process.
 */
export async function startLocalStack(options: { prefix?: string } = {}): Promise<LocalStack> {
  const prefix = options.prefix ?? "pia-local";
  const [dynamoDb, sqs] = await Promise.allSettled([startDynamoDbLocal(), startLocalSqs()]);
  if (dynamoDb.status === "rejected" || sqs.status === "rejected") {
    await Promise.allSettled(
      [dynamoDb, sqs].map((started) => started.status === "fulfilled" && started.value.stop()),
    );
    throw dynamoDb.status === "rejected" ? dynamoDb.reason : (sqs as PromiseRejectedResult).reason;
  }

  const clientConfig = { region: REGION, credentials: { ...CREDENTIALS } };
  const clients = {
    dynamodb: new DynamoDBClient({ ...clientConfig, endpoint: dynamoDb.value.endpoint }),
    streams: new DynamoDBStreamsClient({ ...clientConfig, endpoint: dynamoDb.value.endpoint }),
    sqs: new SQSClient({ ...clientConfig, endpoint: sqs.value.endpoint }),
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      clients.dynamodb.destroy();
      clients.streams.destroy();
      clients.sqs.destroy();
      const results = await Promise.allSettled([dynamoDb.value.stop(), sqs.value.stop()]);
      const failures = results.flatMap((result) => (result.status === "rejected" ? [result.reason] : []));
      if (failures.length > 0) {
        throw new LocalStackError(
          `the local stack did not stop cleanly: ${failures.map(String).join("; ")}`,
          {
            cause: failures[0],
          },
        );
      }
    })();
    return stopping;
  };

  try {
    const [tables, queues] = await Promise.all([
      createTables(clients.dynamodb, prefix),
      createQueues(clients.sqs, prefix),
    ]);
    return {
      region: REGION,
      credentials: { ...CREDENTIALS },
      dynamoEndpoint: dynamoDb.value.endpoint,
      sqsEndpoint: sqs.value.endpoint,
      dynamoDbPid: dynamoDb.value.pid,
      ...tables,
      queues,
      clients,
      stop,
    };
  } catch (error) {
    // The setup error is the one worth reporting; a failure to stop would only hide it.
    await stop().catch(() => {});
    throw error;
  }
}

async function createTables(
  dynamodb: DynamoDBClient,
  prefix: string,
): Promise<Pick<LocalStack, "tableNames" | "streamArns">> {
  const names = Object.keys(TABLES) as TableName[];
  const tableNames = Object.fromEntries(names.map((name) => [name, `${prefix}-${name}`])) as Record<
    TableName,
    string
  >;
  const streamArns: Partial<Record<TableName, string>> = {};
  await Promise.all(
    names.map(async (name) => {
      const definition: TableDefinition = TABLES[name];
      const tableName = tableNames[name];
      try {
        const created = await dynamodb.send(
          new CreateTableCommand(toCreateTableInput(definition, tableName)),
        );
        const streamArn = created.TableDescription?.LatestStreamArn;
        if (streamArn !== undefined) streamArns[name] = streamArn;
        if (definition.ttlAttribute !== undefined) {
          await dynamodb.send(
            new UpdateTimeToLiveCommand({
              TableName: tableName,
              TimeToLiveSpecification: { Enabled: true, AttributeName: definition.ttlAttribute },
            }),
          );
        }
      } catch (error) {
        throw new LocalStackError(`could not create table ${tableName} in DynamoDB Local: ${String(error)}`, {
          cause: error,
        });
      }
    }),
  );
  return { tableNames, streamArns };
}

async function createQueues(sqs: SQSClient, prefix: string): Promise<Record<QueueName, LocalQueue>> {
  const names = Object.keys(QUEUES) as QueueName[];
  const created = await Promise.all(
    names.map(async (name): Promise<[QueueName, LocalQueue]> => {
      const definition = QUEUES[name];
      const queueName = `${prefix}-${name}`;
      try {
        const dlqUrl = await createQueue(sqs, `${queueName}-dlq`, {});
        const url = await createQueue(sqs, queueName, {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: await queueArn(sqs, dlqUrl),
            maxReceiveCount: definition.maxReceiveCount,
          }),
          VisibilityTimeout: String(definition.visibilityTimeoutSeconds),
        });
        return [name, { url, arn: await queueArn(sqs, url), dlqUrl }];
      } catch (error) {
        throw new LocalStackError(`could not create queue ${queueName} in the local SQS: ${String(error)}`, {
          cause: error,
        });
      }
    }),
  );
  return Object.fromEntries(created) as Record<QueueName, LocalQueue>;
}

async function createQueue(
  sqs: SQSClient,
  queueName: string,
  attributes: Record<string, string>,
): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }),
  );
  if (QueueUrl === undefined) throw new LocalStackError(`CreateQueue ${queueName} returned no QueueUrl`);
  return QueueUrl;
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = Attributes?.QueueArn;
  if (arn === undefined) throw new LocalStackError(`GetQueueAttributes ${queueUrl} returned no QueueArn`);
  return arn;
}
