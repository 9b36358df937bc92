import { readFile } from "node:fs/promises";
import type { LoadedRules } from "@pia/core";
import { InvalidRulesError, parseRulesFile, pipelineIssues } from "@pia/core";

/** Reads and validates a rules file (.csv, .json, .yaml); throws InvalidRulesError listing every error. */
export async function loadRulesFile(file: string): Promise<LoadedRules> {
  return parseRulesFile(file, await readFile(file, "utf8"));
}

/**
 * Reads a rules file for the pipeline (`pia rules push`, `pia local`): as `loadRulesFile`, and
 * refuses the rules the pipeline does not run yet (rolling windows), every one listed.
 */
export async function loadPipelineRulesFile(file: string): Promise<LoadedRules> {
  const loaded = await loadRulesFile(file);
  const refused = pipelineIssues(loaded.rules);
  if (refused.length > 0) throw new InvalidRulesError([...refused, ...loaded.warnings], file);
  return loaded;
}
