import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { packageFolder, type ServiceToPackage } from "./services.js";
import { configHash, REPO_ROOT, STAMP_FILE } from "./stamp.js";

export interface Resource {
  readonly Type: string;
  readonly Condition?: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
}

export interface Template {
  readonly Conditions?: Record<string, unknown>;
  readonly Resources: Record<string, Resource>;
  readonly Outputs?: Record<string, unknown>;
}

export class StalePackageError extends Error {
  override readonly name = "StalePackageError";
}

/**
 * The CloudFormation template `pnpm run package` made for a service and stage. Throws
 * `StalePackageError` when there is none, or when serverless.yml changed since: the tests must
 * never pass on an old template.
 */
export async function readTemplate(service: ServiceToPackage, stage: string): Promise<Template> {
  const folder = join(REPO_ROOT, service.path, packageFolder(stage));
  const rerun = `run \`pnpm run package -- --stage dev --stage prod\` first`;
  let stamp: { configHash?: string };
  try {
    stamp = JSON.parse(await readFile(join(folder, STAMP_FILE), "utf8")) as { configHash?: string };
  } catch (error: unknown) {
    throw new StalePackageError(`${service.name} is not packaged for ${stage}: ${rerun}`, { cause: error });
  }
  if (stamp.configHash !== (await configHash(service))) {
    throw new StalePackageError(
      `${service.name}'s ${stage} package is older than its serverless.yml: ${rerun}`,
    );
  }
  return JSON.parse(
    await readFile(join(folder, "cloudformation-template-update-stack.json"), "utf8"),
  ) as Template;
}
