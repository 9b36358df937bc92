import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { NotificationMessage } from "@pia/aws";
import { formatNotification } from "@pia/core";
import type { DeliveryResult, Sink } from "../ports.js";

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? error.message : `${code}: ${error.message}`;
}

/**
 * Appends one NDJSON line per notification to `path` (docs/rules.md section 5: exactly the contract's
 * fields, in order), creating its directory. It remembers the ids it has written in this process,
 * so a message delivered twice is written once even without the delivered table; the memory grows
 * with the notifications of the process, which suits local runs and short-lived Lambda containers.
 * A failed append answers `retry` for the whole batch.
 */
export function buildFileSink(path: string): Sink {
  const written = new Set<string>();
  // Batches are appended one after the other: lines never interleave, and a batch sees the ids of
  // every batch before it.
  let previous: Promise<unknown> = Promise.resolve();

  async function append(batch: readonly NotificationMessage[]): Promise<DeliveryResult[]> {
    const fresh = new Map<string, NotificationMessage>();
    for (const message of batch) {
      if (!written.has(message.id) && !fresh.has(message.id)) fresh.set(message.id, message);
    }
    if (fresh.size > 0) {
      const lines = [...fresh.values()].map(({ notification }) => `${formatNotification(notification)}\n`);
      try {
        await mkdir(dirname(path), { recursive: true });
        await appendFile(path, lines.join(""), "utf8");
      } catch (error: unknown) {
        const reason = `the file sink cannot append to its file (${describeError(error)})`;
        return batch.map(({ id }) => ({ id, status: "retry", error: reason }));
      }
      for (const id of fresh.keys()) written.add(id);
    }
    return batch.map(({ id }) => ({ id, status: "delivered" }));
  }

  return {
    name: "file",
    deliver(batch) {
      const result = previous.then(() => append(batch));
      previous = result.catch(() => undefined);
      return result;
    },
  };
}
