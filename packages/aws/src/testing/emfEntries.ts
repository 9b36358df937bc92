/**
 * The CloudWatch embedded-metric-format entries in what a handler wrote to stdout (tests capture
 * it in chunks): each JSON line that carries the `_aws` metadata, with its metric values.
 */
export function emfEntries(chunks: readonly string[]): Array<Record<string, unknown>> {
  return chunks
    .join("")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => "_aws" in entry);
}
