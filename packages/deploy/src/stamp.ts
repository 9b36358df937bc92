import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceToPackage } from "./services.js";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Written next to each packaged template: what it was packaged for, and from which config. */
export const STAMP_FILE = "pia-package.json";

export const COMMON_CONFIG = join(REPO_ROOT, "packages/deploy/serverless.common.yml");

/**
 * A hash of the configuration a template comes from (the service's serverless.yml and the shared
 * settings), so that the template tests can tell a stale package from a fresh one.
 */
export async function configHash(service: ServiceToPackage): Promise<string> {
  const hash = createHash("sha256");
  for (const file of [join(REPO_ROOT, service.path, "serverless.yml"), COMMON_CONFIG]) {
    hash.update(await readFile(file));
  }
  return hash.digest("hex");
}
