#!/usr/bin/env node
// The SDK warns on every run under Node 20 that its 2027 releases need Node 22; the CLI pins its SDK
// versions (exact versions in package.json), so the warning says nothing actionable to a user here. Set before the
// SDK loads, hence the dynamic import.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const { runCli } = await import("./runCli.js");

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  now: () => Date.now(),
});
