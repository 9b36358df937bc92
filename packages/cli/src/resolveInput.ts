import { readFile } from "node:fs/promises";
import {
  type EventMapping,
  INPUT_FORMATS,
  type InputFormat,
  MAX_MAPPING_CHARS,
  parseEventMapping,
} from "@pia/core";
import { UsageError } from "./errors.js";

/** `--format` and `--mapping` as given. */
export interface InputFlags {
  readonly format: InputFormat;
  readonly mapping?: string;
}

/** The input format and, for `json`, its mapping, read and checked (an invalid mapping throws `InvalidMappingError`). */
export interface ResolvedInput {
  readonly format: InputFormat;
  readonly mapping?: EventMapping;
}

/** `--mapping` goes with `--format json` and only with it; the file is read once, at most 64 KiB. */
export async function resolveInput(flags: InputFlags): Promise<ResolvedInput> {
  if (!(INPUT_FORMATS as readonly string[]).includes(flags.format)) {
    throw new UsageError(`--format ${flags.format}: use one of ${INPUT_FORMATS.join(", ")}`);
  }
  if (flags.format === "json" && flags.mapping === undefined) {
    throw new UsageError("--format json needs --mapping FILE: where the app's JSON keeps each field");
  }
  if (flags.format !== "json" && flags.mapping !== undefined) {
    throw new UsageError(`--mapping is read with --format json only, not with --format ${flags.format}`);
  }
  if (flags.mapping === undefined) return { format: flags.format };
  const text = await readFile(flags.mapping, "utf8");
  if (text.length > MAX_MAPPING_CHARS) {
    throw new UsageError(
      `--mapping ${flags.mapping}: over ${MAX_MAPPING_CHARS} characters; a mapping is a few lines`,
    );
  }
  return { format: "json", mapping: parseEventMapping(text, flags.mapping) };
}
