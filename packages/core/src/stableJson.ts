function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Text to write as is, told apart from a JSON string value waiting on the stack. */
class Literal {
  constructor(readonly text: string) {}
}

const COMMA = new Literal(",");
const CLOSE_LIST = new Literal("]");
const CLOSE_OBJECT = new Literal("}");

/**
 * JSON with object keys sorted at every level, so that key order does not matter. Works from an
 * explicit stack, not by recursion: `JSON.parse` accepts nesting as deep as a record is long (a
 * 1 MiB record nests half a million lists), far deeper than the call stack goes. The pieces are
 * joined once, so the time is linear in the output however deep the nesting.
 */
export function stableJson(root: unknown): string {
  const parts: string[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value instanceof Literal) {
      parts.push(value.text);
    } else if (Array.isArray(value)) {
      parts.push("[");
      stack.push(CLOSE_LIST);
      for (let index = value.length - 1; index >= 0; index--) {
        stack.push(value[index]);
        if (index > 0) stack.push(COMMA);
      }
    } else if (isObject(value)) {
      parts.push("{");
      stack.push(CLOSE_OBJECT);
      const keys = Object.keys(value).sort();
      for (let index = keys.length - 1; index >= 0; index--) {
        const key = keys[index] as string;
        stack.push(value[key], new Literal(`${JSON.stringify(key)}:`));
        if (index > 0) stack.push(COMMA);
      }
    } else {
      parts.push(JSON.stringify(value) ?? "null");
    }
  }
  return parts.join("");
}
