import type { EventItem } from "@pia/aws";

/**
 * DynamoDB's limits, one byte under the documented maxima (DynamoDB Local refuses keys of exactly
 * 2048 / 1024 bytes, and the margin costs nothing real).
 */
const MAX_PARTITION_KEY_BYTES = 2047;
const MAX_SORT_KEY_BYTES = 1023;
const MAX_ITEM_BYTES = 400 * 1024;

/**
 * Why DynamoDB would refuse the item, or `undefined` when it fits. A refused item's PutItem fails
 * with a ValidationException, every time, which fails the whole batch: checked before writing, such
 * an event is quarantined instead of blocking the shard.
 *
 * The item's JSON text is an upper bound of its DynamoDB size (names and UTF-8 string bytes count
 * the same; JSON adds quotes, separators and escapes; numbers take no more as text than stored).
 */
export function checkItemLimits(item: EventItem): string | undefined {
  const pkBytes = Buffer.byteLength(item.pk, "utf8");
  if (pkBytes > MAX_PARTITION_KEY_BYTES) {
    return `partition key (app and user id) is ${pkBytes} bytes, over ${MAX_PARTITION_KEY_BYTES}`;
  }
  const skBytes = Buffer.byteLength(item.sk, "utf8");
  if (skBytes > MAX_SORT_KEY_BYTES) {
    return `sort key (event identity, from event_id) is ${skBytes} bytes, over ${MAX_SORT_KEY_BYTES}`;
  }
  const itemBytes = Buffer.byteLength(JSON.stringify(item), "utf8");
  if (itemBytes > MAX_ITEM_BYTES) return `item is about ${itemBytes} bytes, over ${MAX_ITEM_BYTES}`;
  return undefined;
}

/**
 * Whether the item's `byTypeDay` index keys fit DynamoDB's key limits: `typeDay` is the index's
 * partition key and `pk` its sort key, which may be only half as long as a partition key. An item
 * whose index keys do not fit would fail its PutItem, and so the batch; such an event is
 * stored without `typeDay` instead (counted by the pipeline, left out of previews).
 */
export function fitsIndexKeys(item: EventItem): boolean {
  if (item.typeDay === undefined) return true;
  return (
    Buffer.byteLength(item.typeDay, "utf8") <= MAX_PARTITION_KEY_BYTES &&
    Buffer.byteLength(item.pk, "utf8") <= MAX_SORT_KEY_BYTES
  );
}
