/** One call as it goes on the ingest stream: its JSON text and the user it is partitioned by. */
export interface StreamRecord {
  readonly data: string;
  readonly partitionKey: string;
}

/**
 * Puts records on the ingest stream in one request (at most `PUT_RECORDS_MAX_RECORDS` records
 * and `PUT_RECORDS_MAX_BYTES`), answering the records that were not put (a partial failure).
 * Throws when the request as a whole failed.
 */
export type PutRecords = (records: readonly StreamRecord[]) => Promise<readonly StreamRecord[]>;

/** The write keys callers may use (several while a key is rotated); cached by the adapter. */
export type ReadWriteKeys = () => Promise<readonly string[]>;

/** Epoch milliseconds. */
export type Now = () => number;

export type Sleep = (ms: number) => Promise<void>;
