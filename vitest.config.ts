import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { configDefaults, defineConfig } from "vitest/config";

/**
 * Three projects:
 * - unit: pure code (edge/core, pure origin modules, tools), no services;
 * - workers: the edge worker inside workerd (@cloudflare/vitest-plugin);
 * - integration: real services started by `npm run stack:up` (see scripts/test.sh): test/integration
 *   and the tools' own, beside them as `*.integration.test.ts`.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["edge/**/*.test.ts", "origin/**/*.test.ts", "scripts/**/*.test.ts", "test/unit/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "**/*.integration.test.ts"],
          environment: "node",
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            // Test-only values; nothing answers on port 9, so a Redis call fails fast.
            miniflare: {
              bindings: {
                JWT_SECRET: "workers-test-secret-0123456789-abcdefghij",
                UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
                UPSTASH_REDIS_REST_TOKEN: "unused",
                CLICKHOUSE_URL: "http://127.0.0.1:9",
                ORIGIN_URL: "http://127.0.0.1:9",
                ORIGIN_SHARED_SECRET: "workers-test-origin-secret-0123456789",
              },
            },
          }),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          // The first request of a file loads the worker into workerd: seconds on a busy 2-core machine.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "scripts/**/*.integration.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Tests share real services; files run one at a time to keep the 2-core machine calm.
          fileParallelism: false,
        },
      },
    ],
  },
});
