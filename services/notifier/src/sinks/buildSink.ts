import { CustomerProfilesClient } from "@aws-sdk/client-customer-profiles";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { PinpointClient } from "@aws-sdk/client-pinpoint";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { SinkName } from "@pia/core";
import { buildSecretSource } from "../adapters/buildSecretSource.js";
import type { NotifierConfig, SinkConfig } from "../config.js";
import type { Sink } from "../ports.js";
import { buildCustomerProfilesSink } from "./customerProfilesSink.js";
import { buildEventBridgeSink } from "./eventBridgeSink.js";
import { buildFileSink } from "./fileSink.js";
import { buildPinpointSink } from "./pinpointSink.js";
import { buildRoutingSink } from "./routingSink.js";
import { buildWebhookSink } from "./webhookSink.js";

/**
 * One sink from its settings, with a client of its own (the SDK's default credentials and
 * endpoints, so `AWS_ENDPOINT_URL_<SERVICE>` points any of them at an emulator). A new sink adds
 * its case here (the compiler asks for it).
 */
export function buildOneSink(config: SinkConfig): Sink {
  switch (config.name) {
    case "file":
      return buildFileSink(config.path);
    case "pinpoint":
      return buildPinpointSink(
        new PinpointClient({}),
        config.applicationId === undefined ? {} : { applicationId: config.applicationId },
      );
    case "customer-profiles":
      return buildCustomerProfilesSink(new CustomerProfilesClient({}), config);
    case "eventbridge":
      return buildEventBridgeSink(new EventBridgeClient({}), config);
    case "webhook":
      return buildWebhookSink({
        url: config.url,
        secret: buildSecretSource(
          config.secretParameter === undefined
            ? {
                secretsManager: new SecretsManagerClient({}),
                ...(config.secretId === undefined ? {} : { secretId: config.secretId }),
              }
            : { ssm: new SSMClient({}), parameterName: config.secretParameter },
        ),
      });
  }
}

/** Every sink the stage has, behind one router that follows each rule's `action.sink`. */
export function buildSink(config: Pick<NotifierConfig, "sink" | "sinks">): Sink {
  const sinks: Partial<Record<SinkName, Sink>> = {};
  for (const sink of config.sinks) sinks[sink.name] = buildOneSink(sink);
  return buildRoutingSink(config.sink.name, sinks);
}
