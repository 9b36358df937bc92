import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { InvalidRulesError, type LoadedRules, type RuleIssue } from "./issues.js";
import { type LineOf, validateRules } from "./ruleSchema.js";

const BOM = "\uFEFF";

function stripBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(1) : text;
}

/** 1-based line and column of a character offset. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let index = 0; index < end; index++) {
    if (text.charCodeAt(index) === 10) {
      line++;
      lineStart = index + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

type YamlDocument = ReturnType<typeof parseDocument>;

/**
 * The line of the node at `path`: for a key of a mapping the line of that key, for a list item
 * the line where the item starts; a path that goes beyond the document (a missing key) gives
 * the line of the deepest node that exists.
 */
function yamlLineOf(document: YamlDocument, lineCounter: LineCounter): LineOf {
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  return (path) => {
    let node: unknown = document.contents;
    let line = isNodeWithRange(node) ? lineAt(node.range[0]) : undefined;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(key),
        );
        if (pair === undefined) break;
        if (isNodeWithRange(pair.key)) line = lineAt(pair.key.range[0]);
        node = pair.value;
      } else if (isSeq(node) && typeof key === "number") {
        const item = node.items[key];
        if (item === undefined) break;
        if (isNodeWithRange(item)) line = lineAt(item.range[0]);
        node = item;
      } else {
        break;
      }
    }
    return line;
  };
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return (isMap(node) || isSeq(node) || isScalar(node)) && Array.isArray(node.range);
}

function parseYamlDocument(text: string) {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    schema: "core",
    version: "1.2",
    uniqueKeys: true,
    merge: false,
  });
  return { document, lineCounter };
}

/** First line of a yaml library message, without its trailing position. */
function yamlMessage(message: string): string {
  const first = message.split("\n")[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, "");
}

/**
 * Canonical rules written as JSON (docs/rules.md section 1.1). Syntax errors carry their line; other
 * issues carry the line of the offending key when the text can be mapped (best effort).
 */
export function parseRulesJson(text: string, source?: string): LoadedRules {
  const body = stripBom(text);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const offset = /at position (\d+)/.exec(message)?.[1];
    const { line, column } = positionOf(body, offset === undefined ? body.length : Number(offset));
    const reason = message
      .replace(/ in JSON at position \d+.*$/, "")
      .replace(/ \(line \d+ column \d+\)$/, "");
    const issue: RuleIssue = {
      severity: "error",
      line,
      message: `not valid JSON (column ${column}): ${reason}; fix the syntax (rules are a list: [ { "id": ... }, ... ])`,
    };
    throw new InvalidRulesError([issue], source);
  }
  // JSON is YAML: its YAML document gives the positions JSON.parse does not.
  const { document, lineCounter } = parseYamlDocument(body);
  const lineOf = document.errors.length === 0 ? yamlLineOf(document, lineCounter) : undefined;
  return validateRules(value, lineOf, source);
}

/**
 * Canonical rules written as YAML 1.2 (core schema: `2021-01-01` stays text, `yes` is not a
 * boolean). Every issue carries the line of the offending node.
 */
export function parseRulesYaml(text: string, source?: string): LoadedRules {
  const { document, lineCounter } = parseYamlDocument(text);
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const syntaxIssues = (
    severity: "error" | "warning",
    found: typeof document.errors | typeof document.warnings,
  ) =>
    found.map(
      (problem): RuleIssue => ({
        severity,
        line: lineAt(problem.pos[0]),
        message: `${severity === "error" ? "not valid YAML: " : ""}${yamlMessage(problem.message)}`,
      }),
    );
  const yamlWarnings = syntaxIssues("warning", document.warnings);
  if (document.errors.length > 0) {
    throw new InvalidRulesError([...syntaxIssues("error", document.errors), ...yamlWarnings], source);
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new InvalidRulesError(
      [{ severity: "error", message: `cannot read the YAML document: ${message}` }],
      source,
    );
  }
  const lineOf = yamlLineOf(document, lineCounter);
  try {
    const loaded = validateRules(value, lineOf, source);
    return { rules: loaded.rules, warnings: [...yamlWarnings, ...loaded.warnings] };
  } catch (error) {
    if (error instanceof InvalidRulesError && yamlWarnings.length > 0) {
      throw new InvalidRulesError([...yamlWarnings, ...error.issues], source);
    }
    throw error;
  }
}
