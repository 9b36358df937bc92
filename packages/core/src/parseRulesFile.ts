import { InvalidRulesError, type LoadedRules } from "./issues.js";
import { parseRulesJson, parseRulesYaml } from "./parseCanonicalRules.js";
import { parseRulesCsv } from "./parseRulesCsv.js";

/** The file extensions `parseRulesFile` reads, and the reader of each. */
export const RULE_FILE_EXTENSIONS = [".csv", ".json", ".yaml", ".yml"] as const;

function extensionOf(fileName: string): string {
  const baseName = fileName.slice(Math.max(fileName.lastIndexOf("/"), fileName.lastIndexOf("\\")) + 1);
  const dot = baseName.lastIndexOf(".");
  return dot <= 0 ? "" : baseName.slice(dot).toLowerCase();
}

/**
 * Reads a rules file's text by its extension: `.csv` (the 12-column table), `.json`, `.yaml` or
 * `.yml` (canonical rules). Errors throw `InvalidRulesError` with `source` = `fileName`.
 */
export function parseRulesFile(fileName: string, text: string): LoadedRules {
  switch (extensionOf(fileName)) {
    case ".csv":
      return parseRulesCsv(text, fileName);
    case ".json":
      return parseRulesJson(text, fileName);
    case ".yaml":
    case ".yml":
      return parseRulesYaml(text, fileName);
    default:
      throw new InvalidRulesError(
        [
          {
            severity: "error",
            message: `cannot tell the format of ${JSON.stringify(fileName)} from its extension; name the file .csv (the 12-column rules table), .json or .yaml/.yml (canonical rules)`,
          },
        ],
        fileName,
      );
  }
}
