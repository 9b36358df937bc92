import type { NotificationMessage } from "@pia/aws";
import type { SinkName } from "@pia/core";
import type { DeliveryResult, Sink } from "../ports.js";

/**
 * One sink in front of several: each message goes to its rule's sink (`message.sink`), else to the
 * stage's default. A message for a sink this stage has not configured can never succeed as it is:
 * it is refused for good (and lands in the DLQ with the reason), not retried forever.
 */
export function buildRoutingSink(defaultSink: SinkName, sinks: Partial<Record<SinkName, Sink>>): Sink {
  return {
    name: defaultSink,
    async deliver(batch, options) {
      const groups = new Map<SinkName, NotificationMessage[]>();
      for (const message of batch) {
        const name = message.sink ?? defaultSink;
        const group = groups.get(name) ?? [];
        groups.set(name, group);
        group.push(message);
      }
      const results: DeliveryResult[] = [];
      await Promise.all(
        [...groups].map(async ([name, messages]) => {
          const sink = sinks[name];
          if (sink === undefined) {
            for (const { id } of messages) {
              results.push({
                id,
                status: "permanent",
                error: `the rule's sink "${name}" is not configured on this stage; configure it, or remove action.sink from the rule`,
              });
            }
            return;
          }
          results.push(...(await sink.deliver(messages, options)));
        }),
      );
      return results;
    },
  };
}
