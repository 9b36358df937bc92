/**
 * The services `pnpm run package` packages, in deploy order, with the parameters
 * `serverless-compose.yml` would pass them from other stacks' outputs. Offline there are no
 * outputs, so each gets the value its stage's real resource would have, in a placeholder account.
 */
export interface ServiceToPackage {
  readonly name: string;
  /** Folder of its serverless.yml, from the repository root. */
  readonly path: string;
  /** Function names, each bundled to `.esbuild/.build/src/handlers/<name>.mjs`. */
  readonly handlers: readonly string[];
  readonly params: (target: PackageTarget) => Readonly<Record<string, string>>;
}

export interface PackageTarget {
  readonly stage: string;
  readonly region: string;
}

/**
 * Settings a deployer gives (`PIA_*` variables or `--param`), used for the `prod` package so
 * that the tests see every optional resource rendered: the Pinpoint event stream and each
 * sink's policy. `dev` is packaged with the defaults.
 */
export const CONFIGURED_SETTINGS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  ingest: {
    pinpointAppId: "0123456789abcdef0123456789abcdef",
    kinesisKmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
  },
  notifier: {
    // Pinpoint is offered to rules (action.sink) without being the default.
    sink: "eventbridge",
    sinks: "pinpoint,customer-profiles,webhook",
    pinpointAppId: "0123456789abcdef0123456789abcdef",
    profilesDomain: "pia-profiles",
    profilesKey: "appUserId",
    profilesObjectType: "PiaEvent",
    // A bus given by ARN (dev packages the default bus, given by name).
    eventBusName: "arn:aws:events:us-east-1:123456789012:event-bus/marketing",
    webhookUrl: "https://hooks.example.com/pia",
    webhookSecretParameter: "/pia/prod/webhook-secret",
  },
  // The stream's and the write key parameter's customer managed keys.
  collect: {
    kinesisKmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    writeKeyKmsKeyArn: "arn:aws:kms:us-east-1:123456789012:key/5678abcd-12ab-34cd-56ef-1234567890ab",
    collectThrottleRate: "50",
    collectThrottleBurst: "80",
  },
  timeseries: { scheduleReservedConcurrency: "1" },
  rules: {
    jwtIssuerUrl: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
    jwtAudience: "pia-editor-client",
    editorOrigin: "https://rules.example.com",
    signInUrl: "https://pia-example.auth.us-east-1.amazoncognito.com",
  },
};

/**
 * Where a stage's package goes, in the service folder. Not inside `.serverless/`: the framework
 * builds there and copies that whole folder into the package path.
 */
export function packageFolder(stage: string): string {
  return `.serverless-${stage}`;
}

/** The account the placeholder ARNs name; no AWS call is made. */
export const PLACEHOLDER_ACCOUNT = "123456789012";

const tableArn = ({ stage, region }: PackageTarget, table: string) =>
  `arn:aws:dynamodb:${region}:${PLACEHOLDER_ACCOUNT}:table/pia-${stage}-${table}`;
const queue = ({ stage, region }: PackageTarget) => ({
  notificationsQueueUrl: `https://sqs.${region}.amazonaws.com/${PLACEHOLDER_ACCOUNT}/pia-${stage}-notifications`,
  notificationsQueueArn: `arn:aws:sqs:${region}:${PLACEHOLDER_ACCOUNT}:pia-${stage}-notifications`,
});

export const SERVICES: readonly ServiceToPackage[] = [
  { name: "ingest", path: "services/ingest", handlers: ["ingest"], params: () => ({}) },
  { name: "notifier", path: "services/notifier", handlers: ["notify"], params: () => ({}) },
  {
    name: "collect",
    path: "services/collect",
    handlers: ["collect"],
    params: ({ stage, region }) => ({
      kinesisStreamArn: `arn:aws:kinesis:${region}:${PLACEHOLDER_ACCOUNT}:stream/pia-${stage}-pinpoint-events`,
    }),
  },
  {
    name: "aggregate",
    path: "services/aggregate",
    handlers: ["aggregate"],
    params: (target) => ({
      eventsStreamArn: `${tableArn(target, "events")}/stream/2026-01-01T00:00:00.000`,
      eventsTableName: `pia-${target.stage}-events`,
      eventsTableArn: tableArn(target, "events"),
      ...queue(target),
    }),
  },
  {
    name: "timeseries",
    path: "services/timeseries",
    handlers: ["schedule"],
    params: (target) => ({
      countersTableName: `pia-${target.stage}-counters`,
      countersTableArn: tableArn(target, "counters"),
      rulesTableName: `pia-${target.stage}-rules`,
      rulesTableArn: tableArn(target, "rules"),
      // Backfill reads the events table (a user's history; the byTypeDay index).
      eventsTableName: `pia-${target.stage}-events`,
      eventsTableArn: tableArn(target, "events"),
      ...queue(target),
    }),
  },
  {
    name: "rules",
    path: "services/rules",
    handlers: ["api"],
    params: (target) => ({
      rulesTableName: `pia-${target.stage}-rules`,
      rulesTableArn: tableArn(target, "rules"),
      eventsTableName: `pia-${target.stage}-events`,
      eventsTableArn: tableArn(target, "events"),
      countersTableName: `pia-${target.stage}-counters`,
      countersTableArn: tableArn(target, "counters"),
    }),
  },
];
