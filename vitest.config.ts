import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", ["json", { outputFile: ".tsbuild/vitest-report.json" }]],
    projects: [
      { test: { name: "core", root: "packages/core", include: ["tests/**/*.test.ts"] } },
      { test: { name: "cli", root: "packages/cli", include: ["tests/**/*.test.ts"], testTimeout: 30_000 } },
      {
        test: {
          name: "local-stack",
          root: "packages/local-stack",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      { test: { name: "aws", root: "packages/aws", include: ["tests/**/*.test.ts"] } },
      {
        test: {
          name: "local-runtime",
          root: "packages/local-runtime",
          include: ["tests/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
      { test: { name: "ingest", root: "services/ingest", include: ["tests/**/*.test.ts"] } },
      { test: { name: "collect", root: "services/collect", include: ["tests/**/*.test.ts"] } },
      {
        test: {
          name: "aggregate",
          root: "services/aggregate",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "timeseries",
          root: "services/timeseries",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "notifier",
          root: "services/notifier",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "rules",
          root: "services/rules",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "bench",
          root: "packages/bench",
          include: ["tests/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "deploy",
          root: "packages/deploy",
          include: ["tests/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
    ],
  },
});
