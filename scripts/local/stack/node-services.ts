/**
 * The two local HTTP front doors written in this repo: the Redis REST bridge (Upstash protocol)
 * and the ClickHouse HTTP gateway over chDB. Each runs as `tsx <entry>` from the repo root with
 * the caller's environment; a service whose entry file does not exist yet is skipped with a note
 * instead of failing the whole stack.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  type Component,
  type ComponentStatus,
  ensureProcess,
  type ProcessSpec,
  processStatus,
  stopProcess,
} from "./component.ts";
import type { StackConfig } from "./config.ts";
import { http200, say } from "./proc.ts";

interface NodeService {
  name: string;
  entry: string;
  portEnv: string;
  port: number;
  healthPath: string;
  env?: Record<string, string>;
  dirs?: string[];
}

function nodeService(cfg: StackConfig, svc: NodeService): Component {
  const entryPath = join(cfg.repoRoot, svc.entry);
  const spec: ProcessSpec = {
    name: svc.name,
    marker: svc.entry,
    ports: [[svc.portEnv, svc.port]],
    healthy: () => http200(`http://${cfg.host}:${svc.port}${svc.healthPath}`),
    async prepare() {
      for (const d of svc.dirs ?? []) mkdirSync(d, { recursive: true });
    },
    command: () => ({
      command: join(cfg.repoRoot, "node_modules", ".bin", "tsx"),
      args: [svc.entry],
      env: {
        ...process.env,
        // tsx runs the program with the first `node` on PATH: make it the project's Node 22.
        PATH: `${join(cfg.repoRoot, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
        [svc.portEnv]: String(svc.port),
        ...svc.env,
      },
    }),
    startTimeoutMs: 60_000,
    stopTimeoutMs: 15_000,
  };
  return {
    name: svc.name,
    async up() {
      if (!existsSync(entryPath)) {
        say(`${svc.name}: ${svc.entry} does not exist yet; skipped`);
        return "skipped";
      }
      return ensureProcess(cfg, spec);
    },
    async status(): Promise<ComponentStatus> {
      if (!existsSync(entryPath)) return { state: "skipped", ports: [svc.port], note: `${svc.entry} missing` };
      return processStatus(cfg, spec);
    },
    down: () => stopProcess(cfg, svc.name, spec.marker, spec.stopTimeoutMs),
  };
}

export function redisBridge(cfg: StackConfig): Component {
  return nodeService(cfg, {
    name: "redis-bridge",
    entry: "scripts/local/redis-rest-bridge/main.ts",
    portEnv: "REDIS_BRIDGE_PORT",
    port: cfg.ports.redisBridge,
    healthPath: "/healthz",
    // The Redis of this stack instance, and its ACL user's password kept with its state.
    env: {
      REDIS_URL: cfg.redisUrl,
      // Always the single node, whatever the caller's environment says.
      REDIS_BRIDGE_CLUSTER: "",
      REDIS_BRIDGE_ACL_PASSWORD_FILE:
        process.env.REDIS_BRIDGE_ACL_PASSWORD_FILE || join(cfg.stateDir, "redis-bridge", "acl-password"),
    },
  });
}

/**
 * The second bridge, in cluster mode in front of the opt-in Redis Cluster (redis-cluster.ts), on
 * its own port (REDIS_BRIDGE_CLUSTER_PORT, default 8078) so the single-node one keeps running.
 * Skipped (and reported so while stopped) unless the cluster is enabled.
 */
export function redisBridgeCluster(cfg: StackConfig): Component {
  const inner = nodeService(cfg, {
    name: "redis-bridge-cluster",
    entry: "scripts/local/redis-rest-bridge/main.ts",
    portEnv: "REDIS_BRIDGE_PORT",
    port: cfg.ports.redisBridgeCluster,
    healthPath: "/healthz",
    env: {
      REDIS_BRIDGE_CLUSTER: cfg.redisCluster.ports.map((p) => `${cfg.host}:${p}`).join(","),
      REDIS_BRIDGE_ACL_PASSWORD_FILE:
        process.env.REDIS_BRIDGE_ACL_PASSWORD_FILE || join(cfg.stateDir, "redis-bridge", "acl-password"),
    },
  });
  const note = "opt-in: REDIS_CLUSTER=1 npm run stack:up";
  return {
    name: inner.name,
    async up() {
      if (!cfg.redisCluster.enabled) {
        say(`${inner.name}: skipped (${note})`);
        return "skipped";
      }
      return inner.up();
    },
    async status(): Promise<ComponentStatus> {
      const s = await inner.status();
      if (s.state === "stopped" && !cfg.redisCluster.enabled) {
        return { state: "skipped", ports: s.ports ?? [], note };
      }
      return { ...s, note: s.note ?? `cluster mode, Redis Cluster at ${cfg.host}:${cfg.redisCluster.ports.join(",")}` };
    },
    down: () => inner.down(),
  };
}

export function chGateway(cfg: StackConfig): Component {
  const dataDir = join(cfg.dataDir, "chdb");
  return nodeService(cfg, {
    name: "ch-gateway",
    entry: "scripts/local/clickhouse-http-gateway/main.ts",
    portEnv: "CH_GATEWAY_PORT",
    port: cfg.ports.chGateway,
    healthPath: "/ping",
    env: { CH_GATEWAY_DATA_DIR: dataDir },
    dirs: [dataDir],
  });
}
