import { UsageError } from "@pia/aws/usageError";

/**
 * Runs a command's `main` and sets the exit code: 2 with the message for a usage error (a bad
 * flag), 1 with the stack for anything else.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
