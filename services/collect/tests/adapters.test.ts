import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { buildPutRecords } from "../src/adapters/buildPutRecords.js";
import { buildWriteKeySource, WriteKeySourceError } from "../src/adapters/buildWriteKeySource.js";

const STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/pia-dev-pinpoint-events";
const kinesisMock = mockClient(KinesisClient);
const ssmMock = mockClient(SSMClient);
beforeEach(() => {
  kinesisMock.reset();
  ssmMock.reset();
});

describe("buildPutRecords", () => {
  const records = [
    { data: '{"a":1}', partitionKey: "u1" },
    { data: '{"b":2}', partitionKey: "u2" },
  ];

  it("puts the records on the stream by ARN, and answers those whose result has an ErrorCode", async () => {
    kinesisMock.on(PutRecordsCommand).resolves({
      FailedRecordCount: 1,
      Records: [
        { SequenceNumber: "1", ShardId: "s" },
        { ErrorCode: "ProvisionedThroughputExceededException" },
      ],
    });
    const put = buildPutRecords(new KinesisClient({ region: "us-east-1" }), { streamArn: STREAM });
    expect(await put(records)).toEqual([records[1]]);
    const input = kinesisMock.commandCalls(PutRecordsCommand)[0]?.args[0].input;
    expect(input?.StreamARN).toBe(STREAM);
    expect(input?.Records?.map((r) => [Buffer.from(r.Data ?? []).toString(), r.PartitionKey])).toEqual([
      ['{"a":1}', "u1"],
      ['{"b":2}', "u2"],
    ]);
  });

  it("answers none on success and all when the results are missing", async () => {
    const put = buildPutRecords(new KinesisClient({ region: "us-east-1" }), { streamArn: STREAM });
    kinesisMock.on(PutRecordsCommand).resolves({ FailedRecordCount: 0, Records: [] });
    expect(await put(records)).toEqual([]);
    kinesisMock.on(PutRecordsCommand).resolves({ FailedRecordCount: 2 });
    expect(await put(records)).toEqual(records);
  });
});

describe("buildWriteKeySource", () => {
  const parameterName = "/pia/dev/collect-write-key";

  it("reads the SecureString decrypted, keeps the keys for the TTL, then reads again", async () => {
    let at = 0;
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: "old, new\n" } });
    const read = buildWriteKeySource(new SSMClient({ region: "us-east-1" }), {
      parameterName,
      ttlMs: 60_000,
      now: () => at,
    });
    expect(await read()).toEqual(["old", "new"]);
    at = 59_999;
    await read();
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssmMock.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({
      Name: parameterName,
      WithDecryption: true,
    });
    at = 60_000;
    await read();
    expect(ssmMock.commandCalls(GetParameterCommand)).toHaveLength(2);
  });

  it("names the parameter, never a value, and does not keep a failure", async () => {
    ssmMock
      .on(GetParameterCommand)
      .rejectsOnce(new ParameterNotFound({ message: "nope", $metadata: {} }))
      .resolves({ Parameter: { Value: "k" } });
    const read = buildWriteKeySource(new SSMClient({ region: "us-east-1" }), {
      parameterName,
      ttlMs: 60_000,
    });
    await expect(read()).rejects.toThrow(
      new WriteKeySourceError(`write key: SSM parameter "${parameterName}" does not exist`),
    );
    expect(await read()).toEqual(["k"]);
    ssmMock.reset();
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Value: " , " } });
    const empty = buildWriteKeySource(new SSMClient({ region: "us-east-1" }), { parameterName, ttlMs: 0 });
    await expect(empty()).rejects.toThrow(/has no value/);
  });
});
