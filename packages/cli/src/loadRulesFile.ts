import { readFile } from "node:fs/promises";
import type { LoadedRules } from "@pia/core";
import { parseRulesFile } from "@pia/core";

/** Reads and validates a rules file (.csv, .json, .yaml); throws InvalidRulesError listing every error. */
export async function loadRulesFile(file: string): Promise<LoadedRules> {
  return parseRulesFile(file, await readFile(file, "utf8"));
}

/**
 * Reads a rules file for the pipeline (`pia rules push`, `pia local`). The pipeline runs every
 * valid rule (rolling windows included, decided by the aggregate and the rolling schedule), so
 * this is `loadRulesFile`: one name for the pipeline's callers should that change again.
 */
export async function loadPipelineRulesFile(file: string): Promise<LoadedRules> {
  return loadRulesFile(file);
}
