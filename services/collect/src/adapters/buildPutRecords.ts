import { type KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import type { PutRecords } from "../ports.js";

/**
 * PutRecords on the stream named by its ARN. A partial failure answers the records whose result
 * has an `ErrorCode` (throttled, or an internal failure), which the caller retries; a whole
 * request that fails throws the SDK's error.
 */
export function buildPutRecords(kinesis: KinesisClient, config: { readonly streamArn: string }): PutRecords {
  return async (records) => {
    if (records.length === 0) return [];
    const output = await kinesis.send(
      new PutRecordsCommand({
        StreamARN: config.streamArn,
        Records: records.map((record) => ({
          Data: Buffer.from(record.data, "utf8"),
          PartitionKey: record.partitionKey,
        })),
      }),
    );
    if ((output.FailedRecordCount ?? 0) === 0) return [];
    const results = output.Records ?? [];
    // Results come in request order; without them, nothing is known to be on the stream.
    if (results.length !== records.length) return records;
    return records.filter((_, index) => results[index]?.ErrorCode !== undefined);
  };
}
