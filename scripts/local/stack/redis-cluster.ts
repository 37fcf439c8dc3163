/**
 * An opt-in local Redis Cluster of 3 masters (no replicas) beside the single Redis, from the
 * machine's `redis-server` 7.0, for trying the product's keys against cluster rules (one slot per
 * script, transaction and multi-key command). `REDIS_CLUSTER=1 npm run stack:up` starts it (and
 * the cluster bridge, node-services.ts); `npm run stack:up -- redis-cluster` starts only it.
 *
 * Each node: `redis-server --port P --cluster-enabled yes --cluster-config-file nodes-P.conf`
 * in <state>/data/redis-cluster/<P>, AOF on as the single node has it (appendfsync everysec or
 * REDIS_APPENDFSYNC), nothing else saved. Its cluster bus is P+10000. The first `up` finds three
 * empty nodes and joins them with `redis-cli --cluster create … --cluster-replicas 0
 * --cluster-yes` (all 16384 slots spread over the three); later starts find the membership in
 * nodes-P.conf and the data in the AOF, so a restarted cluster comes back as it was. `down`
 * stops the nodes (by recorded PID) and keeps their data; removing the data dir resets it.
 */
import { execFile } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import {
  type Component,
  type ComponentStatus,
  ensureProcess,
  type ProcessSpec,
  stopProcess,
  type UpOutcome,
} from "./component.ts";
import type { StackConfig } from "./config.ts";
import { ourPid, say } from "./proc.ts";

const MARKER = "redis-server";
const SLOTS = 16384;
/** Bus port offset Redis uses when `cluster-port` is not set. */
const BUS_OFFSET = 10000;

export function nodeName(port: number): string {
  return `redis-cluster-${port}`;
}

/** What one node says of itself and the cluster (null when it does not answer). */
export interface NodeView {
  port: number;
  state: string;
  knownNodes: number;
  slotsAssigned: number;
  /** Slots this node serves (CLUSTER NODES, `myself` line). */
  ownSlots: number;
  appendonly: boolean;
}

async function withNode<T>(host: string, port: number, fn: (c: Redis) => Promise<T>): Promise<T | null> {
  const c = new Redis({
    host,
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 2000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    enableReadyCheck: false,
  });
  c.on("error", () => {});
  try {
    await c.connect();
    return await fn(c);
  } catch {
    return null;
  } finally {
    c.disconnect();
  }
}

function field(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, "m").exec(info)?.[1]?.trim() ?? "";
}

/** Slots in a CLUSTER NODES line's slot ranges (`0-5460 7000 [123->-id]`). */
function countSlots(ranges: string[]): number {
  let n = 0;
  for (const r of ranges) {
    if (r.startsWith("[")) continue; // migrating/importing markers
    const [a, b] = r.split("-").map(Number);
    if (a === undefined || Number.isNaN(a)) continue;
    n += (b ?? a) - a + 1;
  }
  return n;
}

export async function viewNode(host: string, port: number): Promise<NodeView | null> {
  return withNode(host, port, async (c) => {
    const info = String(await c.call("CLUSTER", "INFO"));
    const nodes = String(await c.call("CLUSTER", "NODES"));
    const myself = nodes.split("\n").find((l) => l.split(" ")[2]?.split(",").includes("myself"));
    const aof = (await c.call("CONFIG", "GET", "appendonly")) as string[];
    return {
      port,
      state: field(info, "cluster_state"),
      knownNodes: Number(field(info, "cluster_known_nodes") || 0),
      slotsAssigned: Number(field(info, "cluster_slots_assigned") || 0),
      ownSlots: myself ? countSlots(myself.split(" ").slice(8)) : 0,
      appendonly: aof[1] === "yes",
    };
  });
}

/** Healthy: every node answers, knows all the others, and says the cluster is ok with all slots. */
function clusterOk(views: (NodeView | null)[], size: number): boolean {
  return views.every((v) => v !== null && v.state === "ok" && v.knownNodes === size && v.slotsAssigned === SLOTS);
}

export function redisCluster(cfg: StackConfig): Component & { nodes(): Promise<(NodeView | null)[]> } {
  const { ports, dataDir } = cfg.redisCluster;
  const views = () => Promise.all(ports.map((p) => viewNode(cfg.host, p)));
  const specs: ProcessSpec[] = ports.map((port) => {
    const dir = join(dataDir, String(port));
    return {
      name: nodeName(port),
      marker: MARKER,
      ports: [
        ["REDIS_CLUSTER_PORTS", port],
        ["REDIS_CLUSTER_PORTS (cluster bus: port + 10000)", port + BUS_OFFSET],
      ],
      // Up as a process: it answers PING (cluster state is checked once all nodes are up).
      healthy: async () => (await withNode(cfg.host, port, (c) => c.ping())) === "PONG",
      prepare: async () => {
        mkdirSync(dir, { recursive: true });
      },
      command: () => ({
        command: "redis-server",
        args: [
          ...["--bind", cfg.host, "--port", String(port), "--save", ""],
          ...["--cluster-enabled", "yes", "--cluster-config-file", `nodes-${port}.conf`],
          ...["--cluster-node-timeout", "5000"],
          ...["--appendonly", "yes", "--appendfsync", cfg.redisAppendfsync],
          ...["--dir", dir],
        ],
      }),
      startTimeoutMs: 60_000,
      stopTimeoutMs: 10_000,
    };
  });

  const create = async (): Promise<void> => {
    const addrs = ports.map((p) => `${cfg.host}:${p}`);
    say(`redis-cluster: creating the cluster over ${addrs.join(" ")} (3 masters, no replicas)`);
    try {
      await promisify(execFile)(
        "redis-cli",
        ["--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes"],
        { timeout: 60_000 },
      );
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(`redis-cluster: redis-cli --cluster create failed: ${e.stderr || e.stdout || e.message}`);
    }
  };

  return {
    name: "redis-cluster",
    nodes: views,
    async up(): Promise<UpOutcome> {
      const outcomes = await Promise.all(specs.map((s) => ensureProcess(cfg, s)));
      let outcome: UpOutcome = outcomes.every((o) => o === "already running") ? "already running" : "started";
      let v = await views();
      const fresh = v.every((n) => n !== null && n.knownNodes === 1 && n.slotsAssigned === 0);
      if (fresh) {
        await create();
        outcome = "started";
      } else if (!clusterOk(v, ports.length) && v.some((n) => n !== null && n.knownNodes < ports.length)) {
        // Some nodes know each other and some do not: a half-made cluster is not ours to guess at.
        throw new Error(
          `redis-cluster: the nodes disagree on membership (${v.map((n) => `${n?.port}: ${n ? `${n.knownNodes} known, ${n.slotsAssigned} slots` : "down"}`).join("; ")}); ` +
            `stop it (npm run stack:down) and remove ${dataDir} to start over`,
        );
      }
      // Nodes that were restarted gossip their way back to "ok" within a few seconds.
      const deadline = Date.now() + 30_000;
      for (;;) {
        v = await views();
        if (clusterOk(v, ports.length)) break;
        if (Date.now() > deadline) {
          throw new Error(
            `redis-cluster: not ok after 30 s (${v.map((n) => `${n?.port}: ${n?.state ?? "down"}`).join(", ")})`,
          );
        }
        await sleep(200);
      }
      return outcome;
    },
    async status(): Promise<ComponentStatus> {
      const pids = specs.map((s) => ourPid(cfg, s.name, MARKER));
      const v = await views();
      const anyUp = v.some((n) => n !== null) || pids.some((p) => p !== null);
      const pid = pids.find((p) => p !== null) ?? undefined;
      if (!anyUp) {
        return cfg.redisCluster.enabled
          ? { state: "stopped", ports }
          : { state: "skipped", ports, note: "opt-in: REDIS_CLUSTER=1 npm run stack:up" };
      }
      const perNode = v
        .map((n, i) => (n ? `${n.port}: ${n.ownSlots} slots${n.appendonly ? "" : ", AOF off"}` : `${ports[i]}: down`))
        .join("; ");
      const ok = clusterOk(v, ports.length);
      const others = pids.filter((p) => p === null).length;
      const who = others === 0 ? "started by the stack" : `${others} node(s) not started by the stack`;
      return {
        state: ok ? "healthy" : "unhealthy",
        pid,
        ports,
        note: `${ok ? "cluster_state ok" : `cluster_state ${v.map((n) => n?.state ?? "down").join("/")}`}, ${ports.length} masters (${perNode}); ${who}; data ${dataDir}`,
      };
    },
    async down(): Promise<void> {
      await Promise.all(specs.map((s) => stopProcess(cfg, s.name, MARKER, s.stopTimeoutMs)));
    },
  };
}
