export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
}

/** The environment cannot run the service; names every variable at fault and what to set. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly service: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${service} configuration: ${problems.map(({ variable, problem }) => `${variable} ${problem}`).join("; ")}`,
    );
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads a service's environment once, at cold start, collecting every problem so that one
 * `ConfigError` lists them all: `const read = readEnv(env); …; read.done("ingest")`.
 */
export function readEnv(env: Env) {
  const problems: ConfigProblem[] = [];
  return {
    /** A required name (table, queue URL…): `what` tells the operator what to set. */
    required(variable: string, what: string): string {
      const value = env[variable]?.trim() ?? "";
      if (value === "") problems.push({ variable, problem: `is not set: set it to the ${what}` });
      return value;
    },
    optional(variable: string): string | undefined {
      const value = env[variable]?.trim() ?? "";
      return value === "" ? undefined : value;
    },
    /** A whole number in [min, max]; unset or empty means `fallback`. */
    wholeNumber(variable: string, fallback: number, min: number, max: number, unit: string): number {
      const text = env[variable]?.trim() ?? "";
      if (text === "") return fallback;
      const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
      if (!(value >= min && value <= max)) {
        problems.push({
          variable,
          problem: `is "${text}": set it to a whole number of ${unit} from ${min} to ${max}, or leave it unset for ${fallback}`,
        });
      }
      return value;
    },
    problem(variable: string, problem: string): void {
      problems.push({ variable, problem });
    },
    /** Throws the collected problems, if any. */
    done(service: string): void {
      if (problems.length > 0) throw new ConfigError(service, problems);
    },
  };
}
