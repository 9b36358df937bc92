import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIGURED_SETTINGS, type ServiceToPackage } from "./services.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Written next to each packaged template: what it was packaged for, and from which config. */
export const STAMP_FILE = "pia-package.json";

export const COMMON_CONFIG = join(REPO_ROOT, "packages/deploy/serverless.common.yml");

/**
 * A hash of the configuration a template comes from (the service's serverless.yml, the JS files
 * it reads variables from (its `*.cjs` scripts), the shared settings and the settings a configured
 * stage is packaged with), so that the template tests can tell a stale package from a fresh one.
 */
export async function configHash(service: ServiceToPackage): Promise<string> {
  const hash = createHash("sha256");
  const folder = join(REPO_ROOT, service.path);
  const variableFiles = (await readdir(folder)).filter((name) => name.endsWith(".cjs")).sort();
  for (const file of [
    join(folder, "serverless.yml"),
    ...variableFiles.map((name) => join(folder, name)),
    COMMON_CONFIG,
  ]) {
    hash.update(await readFile(file));
  }
  hash.update(JSON.stringify(CONFIGURED_SETTINGS[service.name] ?? {}));
  return hash.digest("hex");
}
