/**
 * Redis: the machine already runs Redis 7 on 127.0.0.1:6379 (CI too), so we use whatever answers
 * PING at REDIS_URL. Only when nothing answers do we start a redis-server of our own (no
 * persistence, data dir under .stack) and record its PID; `down` stops only that one.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { type Component, type ComponentStatus, ensureProcess, type ProcessSpec, stopProcess } from "./component.ts";
import type { StackConfig } from "./config.ts";
import { ourPid } from "./proc.ts";

const MARKER = "redis-server";

/** PING plus the server's PID (INFO server), or null when nothing answers. */
export async function pingRedis(url: string): Promise<{ pid: number } | null> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  client.on("error", () => {}); // reported through the rejected commands below
  try {
    await client.connect();
    if ((await client.ping()) !== "PONG") return null;
    const info = await client.info("server");
    return { pid: Number(/process_id:(\d+)/.exec(info)?.[1] ?? 0) };
  } catch {
    return null;
  } finally {
    client.disconnect();
  }
}

export function redis(cfg: StackConfig): Component {
  const url = new URL(cfg.redisUrl);
  const port = Number(url.port || 6379);
  const dataDir = join(cfg.dataDir, "redis");
  const spec: ProcessSpec = {
    name: "redis",
    marker: MARKER,
    ports: [["REDIS_URL", port]],
    healthy: async () => (await pingRedis(cfg.redisUrl)) !== null,
    prepare: async () => {
      mkdirSync(dataDir, { recursive: true });
    },
    command: () => ({
      command: "redis-server",
      // Foreground (no --daemonize) so the PID we record is the server's own.
      args: ["--bind", cfg.host, "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dataDir],
    }),
    startTimeoutMs: 20_000,
    stopTimeoutMs: 10_000,
  };
  return {
    name: "redis",
    async up() {
      if (ourPid(cfg, spec.name, MARKER) === null && (await pingRedis(cfg.redisUrl))) return "already running";
      return ensureProcess(cfg, spec);
    },
    async status(): Promise<ComponentStatus> {
      const pong = await pingRedis(cfg.redisUrl);
      const mine = ourPid(cfg, spec.name, MARKER);
      if (!pong) return { state: mine ? "unhealthy" : "stopped", pid: mine ?? undefined, ports: [port] };
      return {
        state: "healthy",
        pid: mine ?? (pong.pid || undefined),
        ports: [port],
        note: mine ? "started by the stack" : "machine's Redis",
      };
    },
    down: () => stopProcess(cfg, spec.name, MARKER, spec.stopTimeoutMs),
  };
}
