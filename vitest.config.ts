import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: ".tsbuild/vitest-report.json" }]],
    projects: [
      { test: { name: "core", root: "packages/core", include: ["tests/**/*.test.ts"] } },
      { test: { name: "cli", root: "packages/cli", include: ["tests/**/*.test.ts"], testTimeout: 30_000 } },
    ],
  },
});
