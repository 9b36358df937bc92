#!/usr/bin/env node
// `pnpm pia` runs this: the CLI as plain JavaScript, built by buildCli.mjs at install. When a source
// of that build changed since (or there is none yet), it rebuilds first and says so on stderr, so an
// edited source never runs as an old build; the check is one stat per bundled source.
import { pathToFileURL } from "node:url";
import { freshEntry } from "./buildCli.mjs";

await import(pathToFileURL(await freshEntry()).href);
