import { readFile } from "node:fs/promises";
import type { LoadedRules } from "@pia/core";
import { parseRulesFile } from "@pia/core";

/** Reads and validates a rules file (.csv, .json, .yaml); throws InvalidRulesError listing every error. */
export async function loadRulesFile(file: string): Promise<LoadedRules> {
  return parseRulesFile(file, await readFile(file, "utf8"));
}
