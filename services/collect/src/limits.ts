/**
 * Segment's documented limits of its HTTP Tracking API (a call, a batch request), which the
 * libraries size their flushes by (analytics-node: 32 KB an event, 480 KB a batch), and what one
 * Kinesis PutRecords request may carry.
 */
export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;
export const PUT_RECORDS_MAX_RECORDS = 500;
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;
/** Kinesis partition keys are 1 to 256 Unicode characters. */
export const MAX_PARTITION_KEY_LENGTH = 256;
/** Malformed calls a 400 lists at most (the count of all of them is given too). */
export const MAX_LISTED_PROBLEMS = 20;
