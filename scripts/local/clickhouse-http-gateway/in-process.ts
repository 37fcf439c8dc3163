/**
 * Runs the ClickHouse gateway in-process on a free port over a fresh temporary chDB data
 * directory. chDB binds one data directory per process, so a test file starts one of these and
 * shares it; further gateways in the same process must use the same directory (`dataDir`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { type ClickHouseGateway, createClickHouseGateway } from "./app.ts";
import { readGatewayConfig } from "./config.ts";

export interface GatewayUnderTest {
  url: string;
  dataDir: string;
  password: string;
  gateway: ClickHouseGateway;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startGatewayUnderTest(
  env: Record<string, string> = {},
  dataDir: string = mkdtempSync(join(tmpdir(), "ch-gateway-test-")),
): Promise<GatewayUnderTest> {
  const password = env.CH_GATEWAY_PASSWORD ?? "test-secret";
  const config = readGatewayConfig({
    CH_GATEWAY_PORT: "0",
    CH_GATEWAY_DATA_DIR: dataDir,
    CH_GATEWAY_PASSWORD: password,
    LOG_LEVEL: process.env.CH_GATEWAY_TEST_LOG_LEVEL ?? "silent",
    ...env,
  });
  const gateway = createClickHouseGateway(config, pino({ level: config.logLevel }));
  const { url } = await gateway.start();
  return {
    url,
    dataDir,
    password,
    gateway,
    async close(opts) {
      await gateway.stop();
      if (!opts?.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
