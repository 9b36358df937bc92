import { GetQueueUrlCommand, SQSClient } from "@aws-sdk/client-sqs";
import { listDeadLetters, redriveDeadLetters } from "@pia/aws";
import { UsageError } from "./errors.js";
import { DEFAULT_REGION, type Env } from "./resolveRulesTarget.js";

/** Which notifications queue and DLQ: a deployed stage's, or explicit URLs (e.g. a local SQS). */
export interface QueueFlags {
  readonly stage?: string;
  readonly queueUrl?: string;
  readonly dlqUrl?: string;
  readonly region?: string;
  readonly endpoint?: string;
}

/** The notifications queue of a stage: the deploy must name it this way for `--stage` to find it. */
export function stageQueueName(stage: string): string {
  return `pia-${stage}-notifications`;
}

async function resolveQueues(
  flags: QueueFlags,
  env: Env,
): Promise<{ sqs: SQSClient; queueUrl: string; dlqUrl: string }> {
  const region = flags.region ?? env.AWS_REGION ?? DEFAULT_REGION;
  const sqs = new SQSClient({
    region,
    ...(flags.endpoint === undefined ? {} : { endpoint: flags.endpoint }),
  });
  if (flags.queueUrl !== undefined && flags.dlqUrl !== undefined) {
    return { sqs, queueUrl: flags.queueUrl, dlqUrl: flags.dlqUrl };
  }
  if (flags.stage === undefined) {
    sqs.destroy();
    throw new UsageError(
      "which queue? pass --stage STAGE (queues pia-STAGE-notifications[-dlq]), or --queue-url and --dlq-url",
    );
  }
  const name = stageQueueName(flags.stage);
  const [queue, dlq] = await Promise.all([
    sqs.send(new GetQueueUrlCommand({ QueueName: name })),
    sqs.send(new GetQueueUrlCommand({ QueueName: `${name}-dlq` })),
  ]);
  return { sqs, queueUrl: queue.QueueUrl ?? "", dlqUrl: dlq.QueueUrl ?? "" };
}

/** `pia dlq list`: the dead letters with why they failed (rule, sink, reason), never user ids. */
export async function dlqList(
  flags: QueueFlags & { max: number; json?: boolean },
  env: Env,
  out: NodeJS.WritableStream,
): Promise<number> {
  const { sqs, dlqUrl } = await resolveQueues(flags, env);
  try {
    const letters = await listDeadLetters(sqs, dlqUrl, flags.max);
    if (flags.json === true) out.write(`${JSON.stringify(letters, null, 2)}\n`);
    else if (letters.length === 0) out.write("the dead-letter queue is empty\n");
    else {
      for (const letter of letters) {
        out.write(
          `${letter.notificationId ?? letter.messageId}  rule ${letter.ruleId ?? "?"}  ${letter.failure ?? "out of receives"}${letter.sink === undefined ? "" : ` (${letter.sink})`}${letter.reason === undefined ? "" : `: ${letter.reason}`}\n`,
        );
      }
    }
    return letters.length;
  } finally {
    sqs.destroy();
  }
}

/** `pia dlq redrive`: moves dead letters back to the notifications queue, bodies unchanged. */
export async function dlqRedrive(
  flags: QueueFlags & { max: number },
  env: Env,
  out: NodeJS.WritableStream,
): Promise<number> {
  const { sqs, queueUrl, dlqUrl } = await resolveQueues(flags, env);
  try {
    const moved = await redriveDeadLetters(sqs, { dlqUrl, queueUrl, max: flags.max });
    out.write(`moved ${moved} message${moved === 1 ? "" : "s"} back to the notifications queue\n`);
    return moved;
  } finally {
    sqs.destroy();
  }
}
