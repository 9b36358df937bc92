import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEFAULTS, QUEUES, TABLES, type TableDefinition } from "@pia/aws";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { conditionHolds, resolve, resourcesOfType, roleStatements } from "../src/evaluateTemplate.js";
import { listZipEntries } from "../src/listZipEntries.js";
import { readTemplate, type Template } from "../src/readTemplate.js";
import { CONFIGURED_SETTINGS, packageFolder, SERVICES, type ServiceToPackage } from "../src/services.js";
import { REPO_ROOT } from "../src/stamp.js";

const require = createRequire(import.meta.url);
const STAGES = ["dev", "prod"] as const;
type Stage = (typeof STAGES)[number];

const templates = new Map<string, Template>();
const templateOf = (service: ServiceToPackage, stage: Stage): Template => {
  const template = templates.get(`${service.name}/${stage}`);
  if (template === undefined) throw new Error(`${service.name}/${stage} was not loaded`);
  return template;
};

/**
 * A function role's grants on the stage's own tables: `grantsOn(arn)` lists the actions on that
 * resource, `resourcesOf(name)` every resource of that table (indexes included) the role names.
 */
function dataGrants(template: Template, stage: Stage) {
  const table = (name: string) => `arn:aws:dynamodb:us-east-1:123456789012:table/pia-${stage}-${name}`;
  const statements = roleStatements(template, "IamRoleLambdaExecution");
  const grantsOn = (resource: string) =>
    statements
      .filter((statement) => statement.Resource.includes(resource))
      .flatMap((statement) => statement.Action)
      .sort();
  const resourcesOf = (name: string) =>
    statements
      .flatMap((statement) => statement.Resource)
      .filter((resource) => resource.includes(`pia-${stage}-${name}`))
      .sort();
  return { table, grantsOn, resourcesOf };
}

beforeAll(async () => {
  for (const service of SERVICES) {
    for (const stage of STAGES) templates.set(`${service.name}/${stage}`, await readTemplate(service, stage));
  }
});

/** Actions Lambda itself needs for the function: its log group and its event source mappings. */
const LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:TagResource"];
const KINESIS_SOURCE = [
  "kinesis:DescribeStream",
  "kinesis:DescribeStreamSummary",
  "kinesis:GetRecords",
  "kinesis:GetShardIterator",
  "kinesis:ListShards",
  "kinesis:ListStreams",
];
const DYNAMODB_STREAM_SOURCE = [
  "dynamodb:DescribeStream",
  "dynamodb:GetRecords",
  "dynamodb:GetShardIterator",
  "dynamodb:ListStreams",
];
const SQS_SOURCE = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"];
/** The Kinesis mapping reads a stream encrypted with a customer managed key with the function's role. */
const KINESIS_KEY = ["kms:Decrypt"];
/** Kinesis itself asks for a data key when a producer puts on a stream with a customer managed key. */
const KINESIS_PRODUCER_KEY = ["kms:GenerateDataKey"];
const PLATFORM = new Set([
  ...LOGS,
  ...KINESIS_SOURCE,
  ...KINESIS_KEY,
  ...KINESIS_PRODUCER_KEY,
  ...DYNAMODB_STREAM_SOURCE,
  ...SQS_SOURCE,
]);

const RULES_API = [...LOGS, "dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"];

/**
 * What each function's role may do, and nothing more. The data actions are the SDK calls of its
 * code (a test below checks each against the bundle); the on-failure destinations of stream
 * mappings add `sqs:SendMessage` on the service's own failures queue.
 */
const EXPECTED_ACTIONS: Readonly<Record<string, Readonly<Record<Stage, readonly string[]>>>> = {
  ingest: {
    dev: [...LOGS, ...KINESIS_SOURCE, "dynamodb:PutItem", "dynamodb:BatchWriteItem", "sqs:SendMessage"],
    // prod: the stream's customer managed key is given.
    prod: [
      ...LOGS,
      ...KINESIS_SOURCE,
      ...KINESIS_KEY,
      "dynamodb:PutItem",
      "dynamodb:BatchWriteItem",
      "sqs:SendMessage",
    ],
  },
  notifier: {
    // Defaults: the eventbridge sink on the default bus.
    dev: [
      ...LOGS,
      ...SQS_SOURCE,
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:UpdateItem",
      "sqs:SendMessage",
      "events:PutEvents",
    ],
    prod: [
      ...LOGS,
      ...SQS_SOURCE,
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:UpdateItem",
      "sqs:SendMessage",
      "events:PutEvents",
      "mobiletargeting:GetUserEndpoints",
      "mobiletargeting:PutEvents",
      "mobiletargeting:UpdateEndpoint",
      "profile:PutProfileObject",
      "profile:SearchProfiles",
      "profile:UpdateProfile",
      "ssm:GetParameter",
    ],
  },
  aggregate: {
    dev: [
      ...LOGS,
      ...DYNAMODB_STREAM_SOURCE,
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
      "sqs:SendMessage",
    ],
    prod: [
      ...LOGS,
      ...DYNAMODB_STREAM_SOURCE,
      "dynamodb:BatchGetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
      "sqs:SendMessage",
    ],
  },
  rules: { dev: RULES_API, prod: RULES_API },
  collect: {
    dev: [...LOGS, "kinesis:PutRecords", "ssm:GetParameter"],
    // prod: the stream's and the write key parameter's customer managed keys are given.
    prod: [...LOGS, "kinesis:PutRecords", "ssm:GetParameter", ...KINESIS_PRODUCER_KEY, "kms:Decrypt"],
  },
  timeseries: {
    dev: [
      ...LOGS,
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "sqs:SendMessage",
    ],
    prod: [
      ...LOGS,
      "dynamodb:GetItem",
      "dynamodb:UpdateItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:Query",
      "dynamodb:PutItem",
      "dynamodb:DeleteItem",
      "sqs:SendMessage",
    ],
  },
};

/** The IAM actions an SDK command class (as imported by a bundle) needs. */
const COMMAND_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  BatchGetCommand: ["dynamodb:BatchGetItem"],
  BatchWriteCommand: ["dynamodb:BatchWriteItem"],
  GetCommand: ["dynamodb:GetItem"],
  PutCommand: ["dynamodb:PutItem"],
  UpdateCommand: ["dynamodb:UpdateItem"],
  DeleteCommand: ["dynamodb:DeleteItem"],
  QueryCommand: ["dynamodb:Query"],
  // A transaction needs the actions of its parts (Put, Update, Delete, ConditionCheck).
  TransactWriteCommand: [
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
  ],
  SendMessageBatchCommand: ["sqs:SendMessage"],
  PutRecordsCommand: ["kinesis:PutRecords"],
  UpdateEndpointCommand: ["mobiletargeting:UpdateEndpoint"],
  GetUserEndpointsCommand: ["mobiletargeting:GetUserEndpoints"],
  PutEventsCommand: ["mobiletargeting:PutEvents", "events:PutEvents"],
  SearchProfilesCommand: ["profile:SearchProfiles"],
  UpdateProfileCommand: ["profile:UpdateProfile"],
  PutProfileObjectCommand: ["profile:PutProfileObject"],
  GetParameterCommand: ["ssm:GetParameter"],
  GetSecretValueCommand: ["secretsmanager:GetSecretValue"],
};

async function bundleOf(service: ServiceToPackage, handler: string): Promise<string> {
  return readFile(join(REPO_ROOT, service.path, ".esbuild/.build/src/handlers", `${handler}.mjs`), "utf8");
}

/** The SDK command classes a bundle imports (the SDK stays out of the bundle, so they show). */
async function importedCommands(service: ServiceToPackage): Promise<Set<string>> {
  const names = new Set<string>();
  for (const handler of service.handlers) {
    const code = await bundleOf(service, handler);
    for (const [, list] of code.matchAll(/import\s*\{([^}]*)\}\s*from\s*"@aws-sdk\/[^"]+"/g)) {
      for (const item of (list ?? "").split(",")) {
        const name = item.trim().split(/\s+as\s+/)[0] ?? "";
        if (name.endsWith("Command")) names.add(name);
      }
    }
  }
  return names;
}

/** A resource ARN is scoped when it names this stage's own resources or a configured target. */
function isScoped(resource: string, service: ServiceToPackage, stage: Stage): boolean {
  if (resource.startsWith("own:")) return true;
  if (!resource.startsWith("arn:aws:")) return false;
  // The framework's grant on the function's own log group(s).
  if (
    /^arn:aws:logs:us-east-1:123456789012:log-group:\/aws\/lambda\/pia-[a-z]+-[a-z]+\*:\*(:\*)?$/.test(
      resource,
    )
  ) {
    return resource.includes(`/aws/lambda/pia-${service.name}-${stage}*`);
  }
  if (resource.includes("*") && !/:(apps|domains)\/[^/*]+\/\*$/.test(resource)) return false;
  if (resource.includes(`pia-${stage}-`) || resource.includes(`/pia/${stage}/`)) return true;
  const configured = stage === "dev" ? {} : (CONFIGURED_SETTINGS[service.name] ?? {});
  const targets = [...Object.values(configured), stage === "dev" ? "event-bus/default" : ""].filter(
    (v) => v !== "",
  );
  return targets.some((target) => resource.includes(target));
}

describe.each(SERVICES.map((service) => [service.name, service] as const))("%s", (_name, service) => {
  describe.each(STAGES)("packaged for %s", (stage) => {
    it("runs nodejs22.x on arm64 and keeps its logs for the stage's retention", () => {
      const template = templateOf(service, stage);
      const functions = resourcesOfType(template, "AWS::Lambda::Function");
      expect(functions.length).toBe(service.handlers.length);
      for (const [, fn] of functions) {
        expect(fn).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
      }
      for (const [, group] of resourcesOfType(template, "AWS::Logs::LogGroup")) {
        expect(group.RetentionInDays).toBe(stage === "dev" ? 14 : 90);
      }
    });

    it("grants no wildcard action, no Resource '*', and only the stack's own or configured resources", () => {
      const template = templateOf(service, stage);
      const roles = resourcesOfType(template, "AWS::IAM::Role").map(([id]) => id);
      const statements = roles.flatMap((role) => roleStatements(template, role));
      expect(statements.length).toBeGreaterThan(0);
      for (const statement of statements) {
        expect(statement.Effect, statement.source).toBe("Allow");
        for (const action of statement.Action) expect(action, statement.source).not.toContain("*");
        expect(statement.Resource.length, statement.source).toBeGreaterThan(0);
        for (const resource of statement.Resource) {
          expect(isScoped(resource, service, stage), `${statement.source}: ${resource}`).toBe(true);
        }
      }
    });

    it("lets the function do exactly what its code calls", () => {
      const template = templateOf(service, stage);
      const granted = new Set(
        roleStatements(template, "IamRoleLambdaExecution").flatMap((statement) => statement.Action),
      );
      expect([...granted].sort()).toStrictEqual([...new Set(EXPECTED_ACTIONS[service.name]?.[stage])].sort());
    });

    it("grants no data action that the bundle has no SDK command for", async () => {
      const template = templateOf(service, stage);
      const callable = new Set(
        [...(await importedCommands(service))].flatMap((name) => COMMAND_ACTIONS[name] ?? []),
      );
      // Lambda itself sends to a stream mapping's on-failure destination, with the function's role.
      const destinations = new Set(
        resourcesOfType(template, "AWS::Lambda::EventSourceMapping").map(
          ([, mapping]) =>
            (mapping.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure
              ?.Destination,
        ),
      );
      const data = roleStatements(template, "IamRoleLambdaExecution")
        .filter((statement) => !statement.Resource.every((resource) => destinations.has(resource)))
        .flatMap((statement) => statement.Action)
        .filter((action) => !PLATFORM.has(action));
      expect(data.length).toBeGreaterThan(0);
      for (const action of data) expect(callable, action).toContain(action);
    });

    it("configures every event source to report item failures and never retry forever", () => {
      const template = templateOf(service, stage);
      const functionTimeout = (id: string) =>
        Number(
          (template.Resources[id.replace(/^own:/, "")]?.Properties as { Timeout?: number } | undefined)
            ?.Timeout,
        );
      for (const [id, mapping] of resourcesOfType(template, "AWS::Lambda::EventSourceMapping")) {
        expect(mapping.FunctionResponseTypes, id).toStrictEqual(["ReportBatchItemFailures"]);
        const source = String(mapping.EventSourceArn);
        const queue = source.startsWith("own:") ? template.Resources[source.slice(4)] : undefined;
        if (queue?.Type === "AWS::SQS::Queue") {
          const properties = resolve(template, queue.Properties) as Record<string, unknown>;
          expect(properties.RedrivePolicy, `${id}: the queue has a DLQ`).toMatchObject({
            deadLetterTargetArn: expect.stringMatching(/^own:/),
            maxReceiveCount: QUEUES.notifications.maxReceiveCount,
          });
          expect(properties.VisibilityTimeout).toBe(QUEUES.notifications.visibilityTimeoutSeconds);
          expect(Number(properties.VisibilityTimeout)).toBeGreaterThanOrEqual(
            6 * functionTimeout(String(mapping.FunctionName)),
          );
        } else {
          expect(mapping, id).toMatchObject({
            BisectBatchOnFunctionError: true,
            ParallelizationFactor: 1,
            StartingPosition: "TRIM_HORIZON",
            DestinationConfig: { OnFailure: { Destination: expect.stringMatching(/^own:/) } },
          });
          expect(Number(mapping.MaximumRetryAttempts)).toBeGreaterThanOrEqual(0);
          expect(Number(mapping.MaximumRetryAttempts)).toBeLessThanOrEqual(10);
          expect(Number(mapping.MaximumRecordAgeInSeconds)).toBeGreaterThan(0);
          expect(Number(mapping.MaximumRecordAgeInSeconds)).toBeLessThan(24 * 3600);
        }
      }
    });

    it("encrypts every queue and alarms on every queue that collects failures", () => {
      const template = templateOf(service, stage);
      const queues = resourcesOfType(template, "AWS::SQS::Queue");
      const alarmed = new Set(
        resourcesOfType(template, "AWS::CloudWatch::Alarm")
          .filter(([, alarm]) => alarm.MetricName === "ApproximateNumberOfMessagesVisible")
          .map(([, alarm]) => (alarm.Dimensions as Array<{ Value: string }>)[0]?.Value),
      );
      const sources = new Set(
        resourcesOfType(template, "AWS::Lambda::EventSourceMapping").map(
          ([, mapping]) => mapping.EventSourceArn,
        ),
      );
      for (const [id, queue] of queues) {
        expect(queue.SqsManagedSseEnabled, id).toBe(true);
        expect(String(queue.QueueName)).toMatch(new RegExp(`^pia-${stage}-`));
        if (!sources.has(`own:${id}`)) {
          expect(queue.MessageRetentionPeriod, id).toBe(14 * 24 * 3600);
          expect(alarmed, `${id} has a depth alarm`).toContain(`own:${id}`);
        }
      }
    });

    it("alarms on errors of every function and on the iterator age of every stream mapping", () => {
      const template = templateOf(service, stage);
      const alarms = resourcesOfType(template, "AWS::CloudWatch::Alarm");
      const alarmedFor = (metric: string) =>
        new Set(
          alarms
            .filter(([, alarm]) => alarm.MetricName === metric)
            .map(([, alarm]) => (alarm.Dimensions as Array<{ Value: string }>)[0]?.Value),
        );
      for (const [id] of resourcesOfType(template, "AWS::Lambda::Function")) {
        expect(alarmedFor("Errors"), id).toContain(`own:${id}`);
      }
      for (const [id, mapping] of resourcesOfType(template, "AWS::Lambda::EventSourceMapping")) {
        if (mapping.BisectBatchOnFunctionError === true) {
          expect(alarmedFor("IteratorAge"), id).toContain(mapping.FunctionName);
        }
      }
    });

    it("defines its tables as TABLES says, encrypted, and protected on every stage but dev", () => {
      const template = templateOf(service, stage);
      for (const [id, table] of resourcesOfType(template, "AWS::DynamoDB::Table")) {
        const name = String(table.TableName).replace(`pia-${stage}-`, "");
        const definition: TableDefinition | undefined = TABLES[name as keyof typeof TABLES];
        expect(definition, `${id} is one of TABLES`).toBeDefined();
        if (definition === undefined) continue;
        expect(table).toMatchObject({
          BillingMode: "PAY_PER_REQUEST",
          KeySchema: definition.KeySchema,
          SSESpecification: { SSEEnabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: stage !== "dev" },
          DeletionProtectionEnabled: stage !== "dev",
        });
        expect(table.AttributeDefinitions).toStrictEqual(definition.AttributeDefinitions);
        expect(table.GlobalSecondaryIndexes).toStrictEqual(definition.GlobalSecondaryIndexes);
        expect(table.StreamSpecification).toStrictEqual(definition.StreamSpecification);
        expect(table.TimeToLiveSpecification).toStrictEqual(
          definition.ttlAttribute === undefined
            ? undefined
            : { AttributeName: definition.ttlAttribute, Enabled: true },
        );
        expect(template.Resources[id]?.DeletionPolicy).toBe(stage === "dev" ? "Delete" : "Retain");
      }
    });

    it("ships its bundles and nothing else (the rules API also its editor's files)", async () => {
      const zip = await readFile(
        join(REPO_ROOT, service.path, packageFolder(stage), `pia-${service.name}.zip`),
      );
      const editor =
        service.name === "rules"
          ? ["editor/editor.css", "editor/editor.js", "editor/index.html", "editor/signIn.js"]
          : [];
      const bundles = service.handlers.map((handler) => `src/handlers/${handler}.mjs`);
      expect(listZipEntries(zip).sort()).toStrictEqual([...editor, ...bundles].sort());
    });

    it("bundles each handler so that it loads on Node with the template's environment", async () => {
      const template = templateOf(service, stage);
      for (const [id, fn] of resourcesOfType(template, "AWS::Lambda::Function")) {
        const handler = String(fn.Handler)
          .replace(/^src\/handlers\//, "")
          .replace(/\.handler$/, "");
        const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
        const env = Object.fromEntries(
          Object.entries(variables).map(([name, value]) => [
            name,
            String(value).replace(/^own:(.*)$/, "https://sqs.us-east-1.amazonaws.com/123456789012/$1"),
          ]),
        );
        const bundle = join(REPO_ROOT, service.path, ".esbuild/.build/src/handlers", `${handler}.mjs`);
        const script = `const m = await import(${JSON.stringify(bundle)}); process.stdout.write(typeof m.handler);`;
        const { stdout } = await promisify(execFile)(
          process.execPath,
          ["--input-type=module", "-e", script],
          {
            env: { PATH: process.env.PATH, AWS_REGION: "us-east-1", ...env },
          },
        );
        expect(stdout, id).toBe("function");
      }
    });
  });
});

describe("the defaults table (packages/aws/src/defaults.json)", () => {
  const serviceNamed = (name: string) =>
    SERVICES.find((service) => service.name === name) as ServiceToPackage;
  const mappingOf = (name: string) =>
    resourcesOfType(templateOf(serviceNamed(name), "dev"), "AWS::Lambda::EventSourceMapping")[0]?.[1] ?? {};
  const environmentOf = (name: string) => {
    const [first] = resourcesOfType(templateOf(serviceNamed(name), "dev"), "AWS::Lambda::Function");
    return (first?.[1].Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
  };

  it("gives the dev stage, deployed without parameters, the event source mappings the local runtime plays", () => {
    expect(mappingOf("ingest")).toMatchObject({
      BatchSize: DEFAULTS.ingest.kinesisBatchSize,
      MaximumRetryAttempts: DEFAULTS.ingest.maximumRetryAttempts,
    });
    expect(mappingOf("aggregate")).toMatchObject({
      BatchSize: DEFAULTS.aggregate.streamBatchSize,
      MaximumRetryAttempts: DEFAULTS.aggregate.maximumRetryAttempts,
      FilterCriteria: { Filters: [{ Pattern: DEFAULTS.aggregate.streamFilterPattern }] },
    });
    expect(mappingOf("notifier")).toMatchObject({ BatchSize: DEFAULTS.notifier.queueBatchSize });
    const rules = resourcesOfType(templateOf(serviceNamed("timeseries"), "dev"), "AWS::Events::Rule");
    expect(rules.map(([, rule]) => rule.ScheduleExpression)).toStrictEqual([
      `rate(${DEFAULTS.timeseries.scheduleMinutes} minutes)`,
      `rate(${DEFAULTS.timeseries.rollingMinutes} minutes)`,
    ]);
    // The rolling schedule tells the function which job to run, and its time (the clock).
    const targets = rules.map(([, rule]) => (rule.Targets as Array<Record<string, unknown>>)[0]);
    expect(targets[0]).not.toHaveProperty("InputTransformer");
    expect(targets[1]?.InputTransformer).toStrictEqual({
      InputPathsMap: { time: "$.time" },
      InputTemplate: '{"job":"rolling","time":<time>}',
    });
  });

  it("gives the dev stage's functions the environment defaults their config falls back to", () => {
    expect(environmentOf("ingest")).toMatchObject({
      EVENT_RETENTION_DAYS: String(DEFAULTS.ingest.eventRetentionDays),
      QUARANTINE_RETENTION_DAYS: String(DEFAULTS.ingest.quarantineRetentionDays),
    });
    expect(environmentOf("aggregate")).toMatchObject({
      RULES_CACHE_SECONDS: String(DEFAULTS.aggregate.rulesCacheSeconds),
    });
    expect(environmentOf("notifier")).toMatchObject({
      DELIVERED_RETENTION_DAYS: String(DEFAULTS.notifier.deliveredRetentionDays),
    });
  });
});

describe("ingest's Pinpoint event stream", () => {
  const ingest = SERVICES.find(({ name }) => name === "ingest") as ServiceToPackage;

  it("creates the Kinesis stream, encrypted, and wires Pinpoint only when an app is given", () => {
    const dev = templateOf(ingest, "dev");
    expect(resourcesOfType(dev, "AWS::Kinesis::Stream")).toMatchObject([
      [expect.any(String), { StreamEncryption: { EncryptionType: "KMS" } }],
    ]);
    expect(resourcesOfType(dev, "AWS::Pinpoint::EventStream")).toStrictEqual([]);
    expect(conditionHolds(templateOf(ingest, "prod"), "CreatePinpointEventStream")).toBe(true);
  });

  it("lets only the given Pinpoint app of this account assume the role, to put records on the stream", () => {
    const prod = templateOf(ingest, "prod");
    const app = CONFIGURED_SETTINGS.ingest?.pinpointAppId;
    const [[, role] = []] = resourcesOfType(prod, "AWS::IAM::Role").filter(
      ([id]) => id === "PinpointEventStreamRole",
    );
    expect(role?.AssumeRolePolicyDocument).toMatchObject({
      Statement: [
        {
          Principal: { Service: "pinpoint.amazonaws.com" },
          Action: "sts:AssumeRole",
          Condition: {
            StringEquals: { "aws:SourceAccount": "123456789012" },
            ArnEquals: { "aws:SourceArn": `arn:aws:mobiletargeting:us-east-1:123456789012:apps/${app}` },
          },
        },
      ],
    });
    expect(roleStatements(prod, "PinpointEventStreamRole")).toMatchObject([
      { Action: ["kinesis:PutRecords", "kinesis:DescribeStream"], Resource: ["own:PinpointKinesisStream"] },
    ]);
    expect(resourcesOfType(prod, "AWS::Pinpoint::EventStream")).toMatchObject([
      [
        expect.any(String),
        {
          ApplicationId: app,
          DestinationStreamArn: "own:PinpointKinesisStream",
          RoleArn: "own:PinpointEventStreamRole",
        },
      ],
    ]);
  });
});

describe("ingest's access to a stream encrypted with a customer managed key", () => {
  const ingest = SERVICES.find(({ name }) => name === "ingest") as ServiceToPackage;

  it("grants kms:Decrypt on exactly the given key, and only when a key is given", () => {
    const key = CONFIGURED_SETTINGS.ingest?.kinesisKmsKeyArn;
    expect(key).toMatch(/^arn:aws:kms:/);
    const decrypt = (stage: Stage) =>
      roleStatements(templateOf(ingest, stage), "IamRoleLambdaExecution").filter((statement) =>
        statement.Action.some((action) => action.startsWith("kms:")),
      );
    expect(decrypt("prod")).toMatchObject([{ Action: ["kms:Decrypt"], Resource: [key] }]);
    expect(decrypt("dev")).toStrictEqual([]);
  });
});

describe("the notifier's sink permissions", () => {
  const notifier = SERVICES.find(({ name }) => name === "notifier") as ServiceToPackage;
  const settings = CONFIGURED_SETTINGS.notifier ?? {};
  const statementsFor = (stage: Stage, prefix: string) =>
    roleStatements(templateOf(notifier, stage), "IamRoleLambdaExecution").filter((statement) =>
      statement.Action.some((action) => action.startsWith(prefix)),
    );

  it("puts events on the bus given by ARN, or by name in this account and region", () => {
    expect(settings.eventBusName).toMatch(/^arn:aws:events:/);
    expect(statementsFor("prod", "events:")).toMatchObject([
      { Action: ["events:PutEvents"], Resource: [settings.eventBusName] },
    ]);
    expect(statementsFor("dev", "events:")).toMatchObject([
      { Action: ["events:PutEvents"], Resource: ["arn:aws:events:us-east-1:123456789012:event-bus/default"] },
    ]);
  });

  it("grants Pinpoint on the configured app whenever a rule may pick the pinpoint sink, default or not", () => {
    expect(settings.sink).not.toBe("pinpoint");
    expect(settings.sinks?.split(",")).toContain("pinpoint");
    const app = `arn:aws:mobiletargeting:us-east-1:123456789012:apps/${settings.pinpointAppId}`;
    expect(statementsFor("prod", "mobiletargeting:")).toMatchObject([
      {
        Action: [
          "mobiletargeting:UpdateEndpoint",
          "mobiletargeting:GetUserEndpoints",
          "mobiletargeting:PutEvents",
        ],
        Resource: [app, `${app}/*`],
      },
    ]);
    // dev offers no pinpoint sink.
    expect(statementsFor("dev", "mobiletargeting:")).toStrictEqual([]);
  });

  it("refuses to package a pinpoint sink without an app (no grant could be scoped), or a bus ARN that is not one", async () => {
    const derive = createRequire(import.meta.url)(
      join(REPO_ROOT, notifier.path, "serverless.sinks.cjs"),
    ) as (context: {
      resolveVariable: (name: string) => Promise<unknown>;
    }) => Promise<Record<string, string>>;
    const custom = (values: Record<string, string>) => ({
      resolveVariable: async (name: string) =>
        ({ sink: "eventbridge", sinks: "", pinpointAppId: "", eventBusName: "default", ...values })[
          name.replace(/^self:custom\./, "")
        ],
    });
    await expect(derive(custom({ sinks: "webhook, pinpoint" }))).rejects.toThrow(/pinpointAppId is empty/);
    await expect(derive(custom({ sink: "pinpoint" }))).rejects.toThrow(/pinpointAppId is empty/);
    await expect(
      derive(custom({ eventBusName: "arn:aws:sns:us-east-1:123456789012:topic" })),
    ).rejects.toThrow(/not an event bus/);
    expect(await derive(custom({ sinks: "pinpoint", pinpointAppId: "app" }))).toMatchObject({
      offersPinpoint: "true",
    });
    expect(await derive(custom({ pinpointAppId: "app" }))).toMatchObject({ offersPinpoint: "false" });
  });

  it("creates pia's object type in the named profiles domain: PROFILE key profilesKey on the user id, UNIQUE key on the notification id, profile creation allowed", async () => {
    const definition = JSON.parse(
      await readFile(join(REPO_ROOT, notifier.path, "src/profiles/objectType.json"), "utf8"),
    ) as { description: string; fields: string[] };
    const prod = templateOf(notifier, "prod");
    const types = resourcesOfType(prod, "AWS::CustomerProfiles::ObjectType");
    expect(types).toStrictEqual([
      [
        "ProfilesObjectType",
        {
          DomainName: settings.profilesDomain,
          ObjectTypeName: settings.profilesObjectType,
          Description: definition.description,
          AllowProfileCreation: true,
          Fields: definition.fields.map((name) => ({
            Name: name,
            ObjectTypeField: { Source: `_source.${name}`, ContentType: "STRING" },
          })),
          Keys: [
            {
              Name: settings.profilesKey,
              ObjectTypeKeyList: [{ StandardIdentifiers: ["PROFILE"], FieldNames: ["userId"] }],
            },
            {
              Name: "piaNotificationId",
              ObjectTypeKeyList: [{ StandardIdentifiers: ["UNIQUE"], FieldNames: ["id"] }],
            },
          ],
        },
      ],
    ]);
    expect(definition.fields).toEqual(expect.arrayContaining(["id", "userId", "type", "name", "value"]));
    // Kept like the tables on a protected stage: removing the stack must not delete pia's objects.
    expect(prod.Resources.ProfilesObjectType).toMatchObject({
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    // dev names no domain.
    expect(resourcesOfType(templateOf(notifier, "dev"), "AWS::CustomerProfiles::ObjectType")).toStrictEqual(
      [],
    );
  });

  it("lets the function search and update profiles in the domain and put objects of pia's type only, never change object types", () => {
    const domain = `arn:aws:profile:us-east-1:123456789012:domains/${settings.profilesDomain}`;
    expect(
      statementsFor("prod", "profile:").map(({ source: _source, ...statement }) => statement),
    ).toStrictEqual([
      { Effect: "Allow", Action: ["profile:SearchProfiles", "profile:UpdateProfile"], Resource: [domain] },
      {
        Effect: "Allow",
        Action: ["profile:PutProfileObject"],
        Resource: [`${domain}/object-types/${settings.profilesObjectType}`],
      },
    ]);
    expect(statementsFor("dev", "profile:")).toStrictEqual([]);
    expect(
      resolve(
        templateOf(notifier, "prod"),
        templateOf(notifier, "prod").Resources.NotifyLambdaFunction?.Properties,
      ),
    ).toMatchObject({
      Environment: {
        Variables: {
          PROFILES_DOMAIN: settings.profilesDomain,
          PROFILES_KEY: settings.profilesKey,
          PROFILES_OBJECT_TYPE: settings.profilesObjectType,
        },
      },
    });
  });

  it("defaults the sink to customer-profiles when a profiles domain is named, else to eventbridge, and the object type to pia-notification", async () => {
    const defaultSink = createRequire(import.meta.url)(
      join(REPO_ROOT, notifier.path, "serverless.defaultSink.cjs"),
    ) as (context: { resolveVariable: (name: string) => Promise<unknown> }) => Promise<string>;
    const withDomain = (profilesDomain: string) => ({
      resolveVariable: async (name: string) =>
        name === "self:custom.profilesDomain" ? profilesDomain : undefined,
    });
    expect(await defaultSink(withDomain("shop"))).toBe("customer-profiles");
    expect(await defaultSink(withDomain(""))).toBe("eventbridge");
    const dev = resolve(
      templateOf(notifier, "dev"),
      templateOf(notifier, "dev").Resources.NotifyLambdaFunction?.Properties,
    );
    expect(dev).toMatchObject({
      Environment: { Variables: { SINK: "eventbridge", PROFILES_OBJECT_TYPE: "pia-notification" } },
    });
  });

  it("refuses to package the customer-profiles sink without a domain, or a domain without the key its profiles are found by", async () => {
    const derive = createRequire(import.meta.url)(
      join(REPO_ROOT, notifier.path, "serverless.sinks.cjs"),
    ) as (context: {
      resolveVariable: (name: string) => Promise<unknown>;
    }) => Promise<Record<string, unknown>>;
    const custom = (values: Record<string, string>) => ({
      resolveVariable: async (name: string) =>
        ({
          sink: "eventbridge",
          sinks: "",
          eventBusName: "default",
          profilesDomain: "",
          profilesKey: "",
          ...values,
        })[name.replace(/^self:custom\./, "")],
    });
    await expect(derive(custom({ sink: "customer-profiles" }))).rejects.toThrow(/profilesDomain is empty/);
    await expect(derive(custom({ profilesDomain: "shop" }))).rejects.toThrow(/profilesKey is empty/);
    await expect(
      derive(custom({ profilesDomain: "shop", profilesKey: "piaNotificationId" })),
    ).rejects.toThrow(/pia's own UNIQUE key/);
    expect(
      await derive(custom({ sink: "customer-profiles", profilesDomain: "shop", profilesKey: "appUserId" })),
    ).toMatchObject({
      profilesObjectType: { Keys: [{ Name: "appUserId" }, { Name: "piaNotificationId" }] },
    });
  });

  it("runs at most 10 invocations at once, which the Pinpoint sink's default rate is sized for", () => {
    for (const stage of STAGES) {
      const mappings = resourcesOfType(templateOf(notifier, stage), "AWS::Lambda::EventSourceMapping");
      expect(mappings).toMatchObject([[expect.any(String), { ScalingConfig: { MaximumConcurrency: 10 } }]]);
    }
  });
});

describe("the rules API", () => {
  const rules = SERVICES.find(({ name }) => name === "rules") as ServiceToPackage;

  it.each(STAGES)(
    "puts every /rules route behind the authorizer; only the editor's files, where to sign in and preflights are public (%s)",
    (stage) => {
      const routes = resourcesOfType(templateOf(rules, stage), "AWS::ApiGatewayV2::Route");
      const open = routes
        .filter(([, route]) => route.AuthorizationType === undefined)
        .map(([, route]) => route.RouteKey);
      expect(open.sort()).toStrictEqual([
        "GET /",
        "GET /editor.css",
        "GET /editor.js",
        "GET /sign-in.json",
        "GET /signIn.js",
        "OPTIONS /rules",
        "OPTIONS /rules/{proxy+}",
      ]);
      const guarded = routes.filter(
        ([, route]) =>
          String(route.RouteKey).includes("/rules") && !String(route.RouteKey).startsWith("OPTIONS "),
      );
      expect(guarded.map(([, route]) => route.RouteKey).sort()).toStrictEqual([
        "ANY /rules",
        "ANY /rules/{proxy+}",
      ]);
      for (const [, route] of guarded) {
        expect(route.AuthorizationType).toBe(stage === "dev" ? "AWS_IAM" : "JWT");
      }
    },
  );

  it("answers a CORS preflight without the JWT authorizer: an open OPTIONS route beside each guarded ANY route (prod)", () => {
    const routes = resourcesOfType(templateOf(rules, "prod"), "AWS::ApiGatewayV2::Route").map(
      ([, route]) => route,
    );
    const guarded = routes.filter((route) => route.AuthorizationType === "JWT");
    expect(guarded.length).toBeGreaterThan(0);
    for (const route of guarded) {
      const path = String(route.RouteKey).replace(/^ANY /, "");
      // API Gateway picks a route with the request's own method over ANY on the same path.
      const preflight = routes.find((candidate) => candidate.RouteKey === `OPTIONS ${path}`);
      expect(preflight, `OPTIONS ${path}`).toBeDefined();
      expect(preflight?.AuthorizationType).toBeUndefined();
      expect(preflight?.AuthorizerId).toBeUndefined();
      // The function answers it (src/buildRulesApiHandler.ts), as it does the guarded route.
      expect(preflight?.Target).toStrictEqual(route.Target);
    }
    const [[, api] = []] = resourcesOfType(templateOf(rules, "prod"), "AWS::ApiGatewayV2::Api");
    expect(api?.CorsConfiguration).toMatchObject({
      AllowHeaders: expect.arrayContaining(["Authorization", "Content-Type", "If-Match"]),
      AllowMethods: expect.arrayContaining(["GET", "POST", "PUT", "DELETE"]),
    });
  });

  it("has the function check the caller too: a JWT needs the pia-editors group (prod); IAM callers their signature (dev)", () => {
    const environment = (stage: Stage) => {
      const [[, fn] = []] = resourcesOfType(templateOf(rules, stage), "AWS::Lambda::Function");
      return (fn?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {};
    };
    expect(environment("prod")).toMatchObject({
      AUTHORIZER: "jwt",
      REQUIRED_GROUP: "pia-editors",
      REQUIRED_SCOPE: "",
      SIGN_IN_URL: CONFIGURED_SETTINGS.rules?.signInUrl,
      SIGN_IN_CLIENT_ID: CONFIGURED_SETTINGS.rules?.jwtAudience,
    });
    expect(environment("dev")).toMatchObject({
      AUTHORIZER: "iam",
      REQUIRED_GROUP: "",
      REQUIRED_SCOPE: "",
      SIGN_IN_URL: "",
    });
  });

  it("asks API Gateway for a configured scope on the guarded routes, and the function for it instead of the group", async () => {
    const httpApi = require(join(REPO_ROOT, rules.path, "httpApi.cjs")) as (input: {
      options: { param: string[] };
    }) => Promise<Record<string, unknown>>;
    const jwt = ["jwtIssuerUrl=https://cognito-idp.example", "jwtAudience=client"];
    expect(await httpApi({ options: { param: [...jwt, "editorScope=pia/rules.write"] } })).toMatchObject({
      authorizer: { name: "jwt", scopes: ["pia/rules.write"] },
      requiredGroup: "",
      requiredScope: "pia/rules.write",
    });
    expect(await httpApi({ options: { param: [...jwt, "editorGroup=rule-admins"] } })).toMatchObject({
      authorizer: { name: "jwt" },
      requiredGroup: "rule-admins",
      requiredScope: "",
    });
    await expect(httpApi({ options: { param: ["editorGroup=rule-admins"] } })).rejects.toThrow(
      /need the JWT authorizer/,
    );
  });

  it.each(STAGES)(
    "reads a user's events (the events table, not its indexes) and the counters table's item to explain a user, and nothing more of them (%s)",
    (stage) => {
      const template = templateOf(rules, stage);
      const { table, grantsOn, resourcesOf } = dataGrants(template, stage);
      expect(grantsOn(table("events"))).toStrictEqual(["dynamodb:Query"]);
      expect(grantsOn(`${table("events")}/index/byTypeDay`)).toStrictEqual(["dynamodb:Query"]);
      expect(grantsOn(table("counters"))).toStrictEqual(["dynamodb:GetItem"]);
      expect(resourcesOf("events")).toStrictEqual([table("events"), `${table("events")}/index/byTypeDay`]);
      expect(resourcesOf("counters")).toStrictEqual([table("counters")]);
      const [[, fn] = []] = resourcesOfType(template, "AWS::Lambda::Function");
      expect(
        (fn?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables,
      ).toMatchObject({
        RULES_TABLE: `pia-${stage}-rules`,
        EVENTS_TABLE: `pia-${stage}-events`,
        COUNTERS_TABLE: `pia-${stage}-counters`,
      });
    },
  );

  it("allows cross-origin calls only from the configured editor origin", () => {
    const [[, devApi] = []] = resourcesOfType(templateOf(rules, "dev"), "AWS::ApiGatewayV2::Api");
    const [[, prodApi] = []] = resourcesOfType(templateOf(rules, "prod"), "AWS::ApiGatewayV2::Api");
    expect(devApi?.CorsConfiguration).toBeUndefined();
    expect(prodApi?.CorsConfiguration).toMatchObject({
      AllowOrigins: [CONFIGURED_SETTINGS.rules?.editorOrigin],
    });
  });
});

describe("the collection endpoint", () => {
  const collect = SERVICES.find(({ name }) => name === "collect") as ServiceToPackage;
  const stream = (stage: Stage) =>
    `arn:aws:kinesis:us-east-1:123456789012:stream/pia-${stage}-pinpoint-events`;
  const statementsFor = (stage: Stage, prefix: string) =>
    roleStatements(templateOf(collect, stage), "IamRoleLambdaExecution").filter((statement) =>
      statement.Action.some((action) => action.startsWith(prefix)),
    );

  it.each(STAGES)(
    "routes POST /v1/track and /v1/batch to the function, which checks the write key (%s)",
    (stage) => {
      const routes = resourcesOfType(templateOf(collect, stage), "AWS::ApiGatewayV2::Route").map(
        ([, route]) => route,
      );
      expect(routes.map((route) => route.RouteKey).sort()).toStrictEqual([
        "POST /v1/batch",
        "POST /v1/track",
      ]);
      for (const route of routes) expect(route.AuthorizationType).toBeUndefined();
      const [[, fn] = []] = resourcesOfType(templateOf(collect, stage), "AWS::Lambda::Function");
      expect(
        (fn?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables,
      ).toMatchObject({
        STREAM_ARN: stream(stage),
        WRITE_KEY_PARAMETER: `/pia/${stage}/collect-write-key`,
      });
    },
  );

  it("throttles the stage's default route: 100 rps, burst 200 by default; as configured otherwise", () => {
    const settings = (stage: Stage) =>
      resourcesOfType(templateOf(collect, stage), "AWS::ApiGatewayV2::Stage").map(
        ([, apiStage]) => apiStage.DefaultRouteSettings as Record<string, unknown>,
      );
    const numbers = (list: Array<Record<string, unknown>>) =>
      list.map((s) => [Number(s.ThrottlingRateLimit), Number(s.ThrottlingBurstLimit)]);
    expect(numbers(settings("dev"))).toStrictEqual([[100, 200]]);
    expect(numbers(settings("prod"))).toStrictEqual([
      [
        Number(CONFIGURED_SETTINGS.collect?.collectThrottleRate),
        Number(CONFIGURED_SETTINGS.collect?.collectThrottleBurst),
      ],
    ]);
  });

  it.each(STAGES)(
    "puts on the ingest stream and reads the write key parameter, nothing else (%s)",
    (stage) => {
      expect(statementsFor(stage, "kinesis:")).toMatchObject([
        { Action: ["kinesis:PutRecords"], Resource: [stream(stage)] },
      ]);
      expect(statementsFor(stage, "ssm:")).toMatchObject([
        {
          Action: ["ssm:GetParameter"],
          Resource: [`arn:aws:ssm:us-east-1:123456789012:parameter/pia/${stage}/collect-write-key`],
        },
      ]);
    },
  );

  it("uses customer managed keys only when given: a data key of the stream's, decryption with the parameter's", () => {
    const settings = CONFIGURED_SETTINGS.collect ?? {};
    expect(statementsFor("prod", "kms:")).toMatchObject([
      { Action: ["kms:GenerateDataKey"], Resource: [settings.kinesisKmsKeyArn] },
      { Action: ["kms:Decrypt"], Resource: [settings.writeKeyKmsKeyArn] },
    ]);
    expect(statementsFor("dev", "kms:")).toStrictEqual([]);
  });

  it.each(STAGES)(
    "alarms on 5xx answers, function errors, throttles and calls not put on the stream (%s)",
    async (stage) => {
      const alarms = resourcesOfType(templateOf(collect, stage), "AWS::CloudWatch::Alarm").map(
        ([, alarm]) => [
          `${alarm.Namespace} ${alarm.MetricName}`,
          (alarm.Dimensions as Array<{ Name: string; Value: string }>).map(
            ({ Name, Value }) => `${Name}=${Value}`,
          ),
        ],
      );
      expect(alarms).toStrictEqual(
        expect.arrayContaining([
          ["AWS/ApiGateway 5xx", ["ApiId=own:HttpApi", "Stage=$default"]],
          ["AWS/Lambda Errors", ["FunctionName=own:CollectLambdaFunction"]],
          ["AWS/Lambda Throttles", ["FunctionName=own:CollectLambdaFunction"]],
          ["pia CallsNotPut", ["service=pia-collect"]],
        ]),
      );
      // The metric the alarm watches is the one the function emits.
      expect(
        await readFile(join(REPO_ROOT, collect.path, ".esbuild/.build/src/handlers/collect.mjs"), "utf8"),
      ).toContain("CallsNotPut:");
    },
  );

  it("offers an app's identity pool role a policy to put on the stream directly, and outputs it with the stream and the URL", () => {
    for (const stage of STAGES) {
      const [[, policy] = []] = resourcesOfType(templateOf(collect, stage), "AWS::IAM::ManagedPolicy");
      const statements = (
        (policy?.PolicyDocument as { Statement?: unknown[] } | undefined)?.Statement ?? []
      ).filter((s) => s !== undefined);
      expect(statements).toStrictEqual([
        { Effect: "Allow", Action: ["kinesis:PutRecord", "kinesis:PutRecords"], Resource: [stream(stage)] },
        ...(stage === "prod"
          ? [
              {
                Effect: "Allow",
                Action: ["kms:GenerateDataKey"],
                Resource: [CONFIGURED_SETTINGS.collect?.kinesisKmsKeyArn],
              },
            ]
          : []),
      ]);
      expect(Object.keys(templateOf(collect, stage).Outputs ?? {}).sort()).toStrictEqual(
        expect.arrayContaining(["CollectApiUrl", "IngestStreamArn", "StreamProducerPolicyArn"]),
      );
    }
  });
});

describe("the timeseries schedule", () => {
  const timeseries = SERVICES.find(({ name }) => name === "timeseries") as ServiceToPackage;
  const scheduleFunction = (stage: Stage) =>
    resourcesOfType(templateOf(timeseries, stage), "AWS::Lambda::Function").map(([, fn]) => fn)[0];

  it("reserves no concurrency by default: that fails to deploy on new or small accounts", () => {
    expect(scheduleFunction("dev")).toBeDefined();
    expect(scheduleFunction("dev")).not.toHaveProperty("ReservedConcurrentExecutions");
  });

  it("reserves what scheduleReservedConcurrency says when a stage sets it", () => {
    expect(CONFIGURED_SETTINGS.timeseries?.scheduleReservedConcurrency).toBe("1");
    expect(scheduleFunction("prod")?.ReservedConcurrentExecutions).toBe(1);
  });

  it.each(STAGES)(
    "reads the events table for backfills (a user's partition and the byTypeDay index, by query only) and follows aggregate's rule cache (%s)",
    (stage) => {
      const template = templateOf(timeseries, stage);
      const { table, grantsOn, resourcesOf } = dataGrants(template, stage);
      expect(grantsOn(table("events"))).toStrictEqual(["dynamodb:Query"]);
      expect(grantsOn(`${table("events")}/index/byTypeDay`)).toStrictEqual(["dynamodb:Query"]);
      expect(grantsOn(`${table("counters")}/index/byRule`)).toStrictEqual(["dynamodb:Query"]);
      expect(grantsOn(table("counters"))).toEqual(
        expect.arrayContaining(["dynamodb:GetItem", "dynamodb:PutItem"]),
      );
      expect(grantsOn(table("rules"))).toStrictEqual([
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
      ]);
      expect(resourcesOf("events")).toStrictEqual([table("events"), `${table("events")}/index/byTypeDay`]);
      expect(
        (scheduleFunction(stage)?.Environment as { Variables?: Record<string, string> } | undefined)
          ?.Variables,
      ).toMatchObject({
        EVENTS_TABLE: `pia-${stage}-events`,
        RULES_CACHE_SECONDS: String(DEFAULTS.aggregate.rulesCacheSeconds),
        BACKFILL_SETTLE_SECONDS: String(DEFAULTS.timeseries.backfillSettleSeconds),
      });
    },
  );
});

describe("aggregate", () => {
  const aggregate = SERVICES.find(({ name }) => name === "aggregate") as ServiceToPackage;

  it.each(STAGES)(
    "reads a user's events to merge a backfilled rule's history: the events table by query, not its indexes (%s)",
    (stage) => {
      const template = templateOf(aggregate, stage);
      const { table, grantsOn, resourcesOf } = dataGrants(template, stage);
      expect(grantsOn(table("events"))).toStrictEqual(["dynamodb:Query"]);
      // The stream's grants name the stream; nothing else of the events table is granted.
      expect(resourcesOf("events").filter((resource) => !resource.includes("/stream/"))).toStrictEqual([
        table("events"),
      ]);
      const [[, fn] = []] = resourcesOfType(template, "AWS::Lambda::Function");
      expect(
        (fn?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables,
      ).toMatchObject({ EVENTS_TABLE: `pia-${stage}-events` });
    },
  );
});

describe("serverless-compose.yml", () => {
  it("passes every parameter a service requires from an output another service defines", async () => {
    const compose = parse(await readFile(join(REPO_ROOT, "serverless-compose.yml"), "utf8")) as {
      services: Record<string, { path: string; params?: Record<string, string> }>;
    };
    expect(Object.keys(compose.services).sort()).toStrictEqual(SERVICES.map(({ name }) => name).sort());
    for (const service of SERVICES) {
      const config = await readFile(join(REPO_ROOT, service.path, "serverless.yml"), "utf8");
      // `${param:name}` without a default must come from compose.
      const required = [...config.matchAll(/\$\{param:(\w+)\}/g)].map(([, name]) => name as string);
      const shared = ["protect", "deletionPolicy", "logRetentionDays", "alarmTopicArn"];
      const wired = compose.services[service.name]?.params ?? {};
      expect(compose.services[service.name]?.path).toBe(service.path);
      expect(Object.keys(wired).sort()).toStrictEqual(
        [...new Set(required.filter((n) => !shared.includes(n)))].sort(),
      );
      for (const [param, reference] of Object.entries(wired)) {
        const [, from, outputName] = /^\$\{(\w+)\.(\w+)\}$/.exec(reference) ?? [];
        const source = SERVICES.find(({ name }) => name === from);
        expect(source, `${service.name}.${param}`).toBeDefined();
        if (source === undefined || outputName === undefined) continue;
        expect(Object.keys(templateOf(source, "dev").Outputs ?? {}), `${service.name}.${param}`).toContain(
          outputName,
        );
      }
    }
  });

  it("names the rules table and the notifications queue as `pia rules` and `pia dlq` expect them", () => {
    const aggregate = SERVICES.find(({ name }) => name === "aggregate") as ServiceToPackage;
    const notifier = SERVICES.find(({ name }) => name === "notifier") as ServiceToPackage;
    // packages/cli: stageRulesTable() and stageQueueName().
    expect(
      resourcesOfType(templateOf(aggregate, "prod"), "AWS::DynamoDB::Table").map(([, t]) => t.TableName),
    ).toContain("pia-prod-rules");
    expect(
      resourcesOfType(templateOf(notifier, "prod"), "AWS::SQS::Queue").map(([, q]) => q.QueueName),
    ).toStrictEqual(expect.arrayContaining(["pia-prod-notifications", "pia-prod-notifications-dlq"]));
  });
});
