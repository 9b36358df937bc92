import type { Sink } from "@pia/notifier";

/** The chosen sink, then the file for what it delivered: `out` shows what reached the sink. */
export function teeSink(primary: Sink, file: Sink): Sink {
  return {
    name: primary.name,
    async deliver(batch) {
      const results = await primary.deliver(batch);
      const delivered = new Set(
        results.filter((result) => result.status === "delivered").map((result) => result.id),
      );
      await file.deliver(batch.filter((message) => delivered.has(message.id)));
      return results;
    },
  };
}
