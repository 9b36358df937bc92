import { lambdaContext } from "@pia/aws";
import type { ApiEvent } from "../src/httpApi.js";

export const USER_ARN = "arn:aws:sts::123456789012:assumed-role/RulesEditor/alice@example.com";

export interface EventOptions {
  /** A JSON value (serialized) or raw text. */
  readonly body?: unknown;
  readonly rawBody?: string;
  readonly base64?: boolean;
  readonly headers?: Record<string, string>;
  /** `requestContext.authorizer`; default: an IAM caller. */
  readonly authorizer?: unknown;
  readonly stage?: string;
}

/** An API Gateway HTTP API event (payload format 2.0), as Lambda receives it. */
export function apiEvent(method: string, path: string, options: EventOptions = {}): ApiEvent {
  const stage = options.stage ?? "$default";
  const rawPath = stage === "$default" ? path : `/${stage}${path}`;
  const text = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const authorizer =
    "authorizer" in options
      ? options.authorizer
      : {
          iam: {
            accessKey: "ASIAEXAMPLE",
            accountId: "123456789012",
            callerId: "AROAEXAMPLE:alice@example.com",
            cognitoIdentity: null,
            principalOrgId: "o-example",
            userArn: USER_ARN,
            userId: "AROAEXAMPLE:alice@example.com",
          },
        };
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString: "",
    headers: {
      "content-type": "application/json",
      host: "abc123.execute-api.us-east-1.amazonaws.com",
      ...options.headers,
    },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.us-east-1.amazonaws.com",
      domainPrefix: "abc123",
      http: {
        method,
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.9",
        userAgent: "vitest",
      },
      requestId: "req-1",
      routeKey: "$default",
      stage,
      time: "01/Jan/2030:00:00:00 +0000",
      timeEpoch: 1_893_456_000_000,
      ...(authorizer === undefined ? {} : { authorizer }),
    },
    isBase64Encoded: options.base64 === true,
    ...(text === undefined
      ? {}
      : { body: options.base64 === true ? Buffer.from(text, "utf8").toString("base64") : text }),
  };
}

export const context = lambdaContext("pia-rules-api", "req-1");
