import { CreateQueueCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { type LocalSqs, startLocalSqs } from "@pia/local-stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dlqList, dlqRedrive } from "../src/dlqCommands.js";

let server: LocalSqs;
let sqs: SQSClient;
let queueUrl: string;
let dlqUrl: string;
const saved = { ...process.env };

function sink(): { stream: NodeJS.WritableStream; text: () => string } {
  let text = "";
  return {
    stream: {
      write: (chunk: string) => {
        text += chunk;
        return true;
      },
    } as unknown as NodeJS.WritableStream,
    text: () => text,
  };
}

beforeAll(async () => {
  Object.assign(process.env, {
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "us-east-1",
  });
  server = await startLocalSqs();
  sqs = new SQSClient({
    region: "us-east-1",
    endpoint: server.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "t-notifications-dlq" }))).QueueUrl ?? "";
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "t-notifications" }))).QueueUrl ?? "";
  for (const n of [1, 2, 3]) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: JSON.stringify({
          id: `n-${n}`,
          notification: { ruleId: `rule-${n}`, userId: "secret-user" },
        }),
        MessageAttributes: {
          piaFailure: { DataType: "String", StringValue: "permanent" },
          piaReason: { DataType: "String", StringValue: "no endpoint for the user" },
          piaSink: { DataType: "String", StringValue: "pinpoint" },
        },
      }),
    );
  }
});

afterAll(async () => {
  sqs.destroy();
  await server.stop();
  process.env = saved;
});

describe("pia dlq", () => {
  const flags = () => ({ queueUrl, dlqUrl, endpoint: server.endpoint, max: 100 });

  it("lists dead letters with rule, failure and reason, never the user", async () => {
    const out = sink();
    expect(await dlqList(flags(), process.env, out.stream)).toBe(3);
    expect(out.text()).toContain("n-2  rule rule-2  permanent (pinpoint): no endpoint for the user");
    expect(out.text()).not.toContain("secret-user");
  });

  it("redrives at most --max messages back to the queue, bodies unchanged", async () => {
    const out = sink();
    expect(await dlqRedrive({ ...flags(), max: 2 }, process.env, out.stream)).toBe(2);
    expect(out.text()).toContain("moved 2 messages");
    expect(await dlqList(flags(), process.env, sink().stream)).toBe(1);
    expect(await dlqList({ ...flags(), dlqUrl: queueUrl }, process.env, sink().stream)).toBe(2);
  });

  it("asks which queue when given neither a stage nor URLs", async () => {
    await expect(dlqList({ max: 1 }, process.env, sink().stream)).rejects.toThrow(/--stage STAGE/);
  });
});
