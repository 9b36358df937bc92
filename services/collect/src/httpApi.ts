import { headerOf, jsonResult, requestPath } from "@pia/aws";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";

// One reading of headers and paths, and one JSON answer, for every HTTP API of the project, in @pia/aws.
export { headerOf, jsonResult, requestPath };

/** An API Gateway HTTP API request (payload format 2.0). */
export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;

/** The body's bytes, as sent (API Gateway base64-encodes what it does not take for text). */
export function bodyBytes(event: ApiEvent): Buffer {
  const raw = event.body ?? "";
  return event.isBase64Encoded ? Buffer.from(raw, "base64") : Buffer.from(raw, "utf8");
}
