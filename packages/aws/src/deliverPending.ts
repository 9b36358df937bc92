import { SEND_BATCH_LIMIT } from "./notificationMessage.js";

/** A counter's pending messages, and the `rev` at which they were stored. */
export interface PendingDelivery {
  readonly key: { readonly pk: string; readonly sk: string };
  readonly rev: number;
  readonly messages: readonly { readonly id: string; readonly body: string }[];
}

/**
 * Sends pending messages a SendMessageBatch-sized group at a time and clears each group's counters
 * right after its send: a failure part-way keeps what was already confirmed, so a retry has less
 * to do each time instead of starting over (and never livelocks on a large backlog).
 * Returns the number of messages sent.
 */
export async function deliverPending(
  deliveries: readonly PendingDelivery[],
  send: (messages: readonly { id: string; body: string }[]) => Promise<void>,
  clear: (counters: readonly { key: { pk: string; sk: string }; rev: number }[]) => Promise<void>,
): Promise<number> {
  let sent = 0;
  let group: PendingDelivery[] = [];
  let size = 0;
  const flush = async () => {
    if (group.length === 0) return;
    const messages = group.flatMap((delivery) => delivery.messages);
    await send(messages);
    await clear(group.map(({ key, rev }) => ({ key, rev })));
    sent += messages.length;
    group = [];
    size = 0;
  };
  for (const delivery of deliveries) {
    if (delivery.messages.length === 0) continue;
    if (size + delivery.messages.length > SEND_BATCH_LIMIT) await flush();
    group.push(delivery);
    size += delivery.messages.length;
  }
  await flush();
  return sent;
}
