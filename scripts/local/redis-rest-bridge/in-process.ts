/**
 * Runs the Redis REST bridge in-process on a free port for a test file, with its own token and
 * config, next to a direct ioredis connection to the same Redis for side-by-side comparisons.
 */
import { randomBytes } from "node:crypto";
import { Redis as IORedis } from "ioredis";
import { pino } from "pino";
import { createRedisBridge, type RedisBridge } from "./app.ts";
import { readBridgeConfig } from "./config.ts";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export interface BridgeUnderTest {
  url: string;
  token: string;
  direct: IORedis;
  bridge: RedisBridge;
  close(): Promise<void>;
}

/** Connects to Redis first, failing with how to start it when it is not there. */
export async function startBridgeUnderTest(env: Record<string, string> = {}): Promise<BridgeUnderTest> {
  const direct = new IORedis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await direct.connect();
  } catch (err) {
    throw new Error(
      `Redis is not answering at ${REDIS_URL} (${(err as Error).message}); start it (it runs on every machine of this kind: \`service redis-server start\`) or set REDIS_URL`,
    );
  }
  const token = `test-${randomBytes(12).toString("hex")}`;
  const config = readBridgeConfig({
    REDIS_URL,
    REDIS_BRIDGE_PORT: "0",
    REDIS_BRIDGE_TOKEN: token,
    LOG_LEVEL: "silent",
    ...env,
  });
  const bridge = createRedisBridge(config, pino({ level: config.logLevel }));
  const { url } = await bridge.start();
  return {
    url,
    token,
    direct,
    bridge,
    async close() {
      await bridge.stop();
      direct.disconnect();
    },
  };
}

/** A unique key prefix per test, and the cleanup that deletes everything under it. */
export function keySpace(direct: IORedis, name: string): { key: (suffix: string) => string; cleanup(): Promise<void> } {
  const prefix = `t:redis-bridge:${name}:${randomBytes(4).toString("hex")}`;
  return {
    key: (suffix) => `${prefix}:${suffix}`,
    async cleanup() {
      const keys = await direct.keys(`${prefix}:*`);
      if (keys.length > 0) await direct.del(...keys);
    },
  };
}
