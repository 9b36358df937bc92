/**
 * Packages every service offline, the way CI proves the deploy path without an AWS account:
 *
 *   pnpm run package [-- --stage dev --stage prod] [--region us-east-1] [--only ingest] [--help]
 *
 * Runs `serverless package` in each service folder with dummy credentials, telemetry off and
 * explicit params (see services.ts), two services at a time, each stage in turn. Each service's
 * `.serverless-<stage>/` then holds the CloudFormation template and the zip; `.esbuild/.build/`
 * keeps the last bundle, which the template tests import. Stages other than `dev` get the
 * settings of a fully configured deploy (CONFIGURED_SETTINGS).
 */
import { spawn } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { mapLimited } from "@pia/aws";
import { UsageError } from "@pia/aws/usageError";
import {
  CONFIGURED_SETTINGS,
  type PackageTarget,
  packageFolder,
  SERVICES,
  type ServiceToPackage,
} from "./services.js";
import { configHash, REPO_ROOT, STAMP_FILE } from "./stamp.js";

/** One `serverless package` run; resolves with its output, rejects with it when it fails. */
function runServerless(service: ServiceToPackage, target: PackageTarget): Promise<string> {
  const settings = target.stage === "dev" ? {} : (CONFIGURED_SETTINGS[service.name] ?? {});
  const params = Object.entries({ ...settings, ...service.params(target) }).map(
    ([name, value]) => `--param=${name}=${value}`,
  );
  const args = [
    "package",
    "--stage",
    target.stage,
    "--region",
    target.region,
    "--package",
    packageFolder(target.stage),
    ...params,
  ];
  // Packaging calls no AWS API; dummy credentials keep the SDK from looking for real ones.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    AWS_ACCESS_KEY_ID: "offline",
    AWS_SECRET_ACCESS_KEY: "offline",
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, "node_modules/.bin/serverless"), args, {
      cwd: join(REPO_ROOT, service.path),
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(output);
      else reject(new Error(`serverless package failed in ${service.path} (exit ${code}):\n${output}`));
    });
  });
}

async function packageOne(service: ServiceToPackage, target: PackageTarget): Promise<string> {
  const started = performance.now();
  await runServerless(service, target);
  const folder = join(REPO_ROOT, service.path, packageFolder(target.stage));
  const { size } = await stat(join(folder, `pia-${service.name}.zip`));
  await writeFile(
    join(folder, STAMP_FILE),
    `${JSON.stringify({ ...target, configHash: await configHash(service) })}\n`,
  );
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  return `${service.name.padEnd(12)} ${target.stage.padEnd(6)} ${(size / 1024).toFixed(0).padStart(6)} KiB zip  ${seconds} s`;
}

const USAGE = `usage: pnpm run package [-- --stage dev --stage prod] [--region us-east-1] [--only NAME]
Packages every service (or each --only NAME: ${SERVICES.map(({ name }) => name).join(", ")}) offline, for each --stage (default dev).
`;

function parseFlags(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        stage: { type: "string", multiple: true },
        region: { type: "string", default: "us-east-1" },
        only: { type: "string", multiple: true },
        help: { type: "boolean" },
      },
    }).values;
  } catch (error: unknown) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, {
      cause: error,
    });
  }
}

async function main(): Promise<void> {
  // \`pnpm run package -- --stage dev\` passes the \`--\` through (npm drops it): skip a leading one.
  const argv = process.argv.slice(2);
  const values = parseFlags(argv[0] === "--" ? argv.slice(1) : argv);
  const only = values.only ?? [];
  const unknown = only.filter((name) => !SERVICES.some((service) => service.name === name));
  if (unknown.length > 0) {
    throw new UsageError(`--only ${unknown.join(", ")}: use ${SERVICES.map(({ name }) => name).join(", ")}`);
  }
  const services = only.length === 0 ? SERVICES : SERVICES.filter(({ name }) => only.includes(name));
  const stages = values.stage ?? ["dev"];
  const invalid = stages.filter((stage) => !/^[A-Za-z0-9-]+$/.test(stage));
  if (invalid.length > 0) throw new UsageError(`--stage ${invalid.join(", ")}: use letters, digits and "-"`);
  // After the checks: `--help` with other flags says whether they would be accepted.
  if (values.help === true) {
    process.stdout.write(USAGE);
    return;
  }
  const started = performance.now();
  // A service's stages run one after the other: they share its .esbuild folder.
  const lines = await mapLimited(services, 2, async (service) => {
    const done: string[] = [];
    for (const stage of stages) done.push(await packageOne(service, { stage, region: values.region }));
    return done;
  });
  process.stdout.write(`${lines.flat().join("\n")}\n`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `packaged ${services.length} services for ${stages.join(", ")} (${values.region}) in ${seconds} s\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`pnpm run package: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
