/** What the AWS SDK v3 puts on the errors it throws, as the sinks read it. */
export interface SdkError {
  readonly name?: string;
  readonly $fault?: "client" | "server";
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $retryable?: { readonly throttling?: boolean };
}

/** The error's name and HTTP status: AWS messages may echo request values, so they are left out. */
export function describeSdkError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const status = (error as SdkError).$metadata?.httpStatusCode;
  return status === undefined ? error.name : `${error.name} (HTTP ${status})`;
}
