/**
 * The bridge in front of a Redis Cluster (REDIS_BRIDGE_CLUSTER): the same two kinds of
 * connection as pool.ts, made cluster-aware.
 *
 * - Ordinary commands go through one ioredis `Cluster`, one command at a time: it routes each by
 *   its first key's slot (following MOVED/ASK), and commands written in the same tick still
 *   travel pipelined on each node's socket. A `/pipeline` whose commands live on different nodes
 *   therefore just works and its replies come back in order (the executor settles one promise per
 *   command). ioredis's own `cluster.pipeline()` is not used: it refuses any pipeline whose keys
 *   are on more than one node ("All keys in the pipeline should belong to the same slots
 *   allocation group").
 * - A multi-key command, or a script whose declared keys span slots, gets Redis's own
 *   `CROSSSLOT Keys in request don't hash to the same slot`, as on any cluster.
 * - Transactions, WATCH and blocking commands need a connection of their own on the node that
 *   owns their keys: each master gets a RedisPool of dedicated connections; the slot of every key
 *   of the request decides which. A /multi-exec whose keys span slots is refused before anything
 *   runs with that same CROSSSLOT text (`CrossSlotError`), since Redis would refuse it too.
 * - Keyless commands go to a random master, except the few whose effect or answer is per node and
 *   must cover the cluster (`broadcast`): SCRIPT LOAD/EXISTS/FLUSH, FUNCTION LOAD/DELETE/FLUSH,
 *   FLUSHDB/FLUSHALL (when allowed) and DBSIZE (summed).
 */
import { Cluster, type ClusterNode, Command, Redis } from "ioredis";
import type { Logger } from "pino";
import { ApiError } from "#core/errors.ts";
import { keySlot } from "../../../origin/src/redis-cluster.ts";
import type { RedisArg, RedisReply } from "./encoding.ts";
import { connectionFailure, RedisPool, sendRaw } from "./pool.ts";

/** A key's slot (its hash tag when it has one) as the origin computes it: one definition for both. */
export { keySlot, SLOT_COUNT } from "../../../origin/src/redis-cluster.ts";
export const CROSSSLOT_MESSAGE = "CROSSSLOT Keys in request don't hash to the same slot";

/** A request whose keys span slots (or nodes) where one connection must serve them all. */
export class CrossSlotError extends Error {
  override readonly name = "CrossSlotError";
  constructor() {
    super(CROSSSLOT_MESSAGE);
  }
}

/** The keys of one command as Redis's command table (via ioredis) names them; [] when keyless or unknown. */
export function commandKeys(args: readonly RedisArg[]): (string | Buffer)[] {
  const [name = "", ...rest] = args;
  try {
    return new Command(String(name), rest as (string | Buffer)[]).getKeys() as (string | Buffer)[];
  } catch {
    return []; // a malformed command: Redis will say what is wrong with it
  }
}

/** The distinct slots a set of commands touches. */
export function slotsOf(commands: readonly (readonly RedisArg[])[]): Set<number> {
  const slots = new Set<number>();
  for (const c of commands) for (const k of commandKeys(c)) slots.add(keySlot(k));
  return slots;
}

/** How a broadcast command's per-master replies become one. */
type Combine = "first" | "sum" | "all-of";

/** Keyless commands whose effect or answer is per node (see the module comment). */
export function broadcastKind(args: readonly RedisArg[]): Combine | null {
  const name = String(args[0] ?? "").toUpperCase();
  const sub = String(args[1] ?? "").toUpperCase();
  if (name === "SCRIPT" && sub === "EXISTS") return "all-of";
  if (name === "SCRIPT" && (sub === "LOAD" || sub === "FLUSH")) return "first";
  if (name === "FUNCTION" && (sub === "LOAD" || sub === "DELETE" || sub === "FLUSH")) return "first";
  if (name === "FLUSHDB" || name === "FLUSHALL") return "first";
  if (name === "DBSIZE") return "sum";
  return null;
}

export interface ClusterPoolOptions {
  /** Seed nodes, `redis://[user:password@]host:port`. */
  nodes: string[];
  auth?: { username: string; password: string };
  onAuthFailure?: () => void;
  /** Dedicated connections per master. */
  size: number;
  commandTimeoutMs: number;
}

function seed(url: string): ClusterNode {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379) };
}

/** Credentials of a seed URL (the first one's apply to every node), if it carries any. */
export function urlAuth(url: string): { username?: string; password?: string } {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** `node` (`host:port`) as a URL carrying `seedUrl`'s credentials. */
export function nodeUrl(seedUrl: string, node: string): string {
  const u = new URL(seedUrl);
  const i = node.lastIndexOf(":");
  u.hostname = node.slice(0, i);
  u.port = node.slice(i + 1);
  return u.toString().replace(/\/$/, "");
}

export class ClusterPool {
  readonly shared: Cluster;
  private readonly dedicated = new Map<string, RedisPool>();
  private closed = false;

  constructor(
    private readonly options: ClusterPoolOptions,
    private readonly log: Logger,
  ) {
    const auth = options.auth ?? urlAuth(options.nodes[0] as string);
    this.shared = new Cluster(options.nodes.map(seed), {
      lazyConnect: true,
      // As pool.ts: fail fast while the cluster is not there rather than queue for a client that retries.
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      slotsRefreshTimeout: 2000,
      redisOptions: {
        connectionName: "redis-bridge:cluster-shared",
        maxRetriesPerRequest: 0,
        autoResendUnfulfilledCommands: false,
        commandTimeout: options.commandTimeoutMs,
        enableReadyCheck: false,
        ...auth,
      },
    });
    const onError = (err: Error) => {
      log.debug({ err: err.message }, "redis cluster connection error");
      if (/^(WRONGPASS|NOAUTH)/.test(err.message)) options.onAuthFailure?.();
    };
    this.shared.on("error", onError);
    this.shared.on("node error", onError);
  }

  connectShared(): void {
    if (this.shared.status === "wait") this.shared.connect().catch(() => {});
  }

  async waitReady(timeoutMs: number): Promise<boolean> {
    if (this.shared.status === "ready") return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.shared.off("ready", onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.shared.on("ready", onReady);
    });
  }

  /** `host:port` of the master serving `slot`, or of any master for keyless work. */
  private masterFor(slot: number | undefined): string {
    if (this.shared.status !== "ready") {
      throw connectionFailure(new Error(`the Redis Cluster is not ready (${this.shared.status})`));
    }
    const owners = slot === undefined ? undefined : this.shared.slots[slot];
    if (owners?.[0]) return owners[0];
    const any = this.shared.nodes("master")[0];
    if (slot !== undefined || !any) {
      throw connectionFailure(new Error(`no master known for slot ${slot ?? "(any)"}`));
    }
    return `${any.options.host}:${any.options.port}`;
  }

  private poolFor(node: string): RedisPool {
    let pool = this.dedicated.get(node);
    if (!pool) {
      pool = new RedisPool(
        {
          url: nodeUrl(this.options.nodes[0] as string, node),
          size: this.options.size,
          commandTimeoutMs: this.options.commandTimeoutMs,
          ...(this.options.auth ? { auth: this.options.auth } : {}),
          ...(this.options.onAuthFailure ? { onAuthFailure: this.options.onAuthFailure } : {}),
        },
        this.log.child({ node }),
      );
      this.dedicated.set(node, pool);
    }
    return pool;
  }

  /**
   * Runs `work` on a dedicated connection to the master that owns every key of `commands`.
   * `sameSlot`: all keys must share one slot (a transaction), else one node is enough (a pipeline
   * holding a blocking command). Throws CrossSlotError otherwise, before anything runs.
   */
  async withDedicated<T>(
    work: (conn: Redis) => Promise<{ value: T; reusable: boolean }>,
    commands: readonly (readonly RedisArg[])[] = [],
    sameSlot = false,
  ): Promise<T> {
    if (this.closed) throw new ApiError("unavailable", "ERR the bridge is shutting down");
    const slots = [...slotsOf(commands)];
    if (sameSlot && slots.length > 1) throw new CrossSlotError();
    const nodes = new Set(slots.map((s) => this.masterFor(s)));
    if (nodes.size > 1) throw new CrossSlotError();
    const node = nodes.size === 1 ? ([...nodes][0] as string) : this.masterFor(undefined);
    return this.poolFor(node).withDedicated(work);
  }

  /** Sends a keyless per-node command to every master and combines the replies (see broadcastKind). */
  async broadcast(args: readonly RedisArg[], combine: Combine): Promise<RedisReply> {
    const masters = this.shared.status === "ready" ? this.shared.nodes("master") : [];
    if (masters.length === 0) return sendRaw(this.shared, args); // rejects as the cluster does
    const replies = await Promise.all(masters.map((m) => sendRaw(m, args)));
    if (combine === "sum") return replies.reduce<number>((n, r) => n + Number(r), 0);
    if (combine === "all-of") {
      const first = replies[0] as number[];
      return first.map((_, i) => (replies.every((r) => Array.isArray(r) && Number(r[i]) === 1) ? 1 : 0));
    }
    return replies[0] as RedisReply;
  }

  stats(): { open: number; idle: number; waiting: number; size: number; masters: number } {
    const all = [...this.dedicated.values()].map((p) => p.stats());
    return {
      open: all.reduce((n, s) => n + s.open, 0),
      idle: all.reduce((n, s) => n + s.idle, 0),
      waiting: all.reduce((n, s) => n + s.waiting, 0),
      size: this.options.size,
      masters: this.shared.status === "ready" ? this.shared.nodes("master").length : 0,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.dedicated.values()].map((p) => p.close()));
    if (this.shared.status === "wait") this.shared.disconnect();
    else await this.shared.quit().catch(() => this.shared.disconnect());
  }
}

/**
 * Every node of the cluster as `redis://[auth@]host:port`: the seeds plus what CLUSTER SLOTS on
 * the first answering seed lists (ACL users are per node, so the bridge provisions each).
 */
export async function clusterNodeUrls(seeds: string[]): Promise<string[]> {
  const out = new Map<string, string>();
  const withAuth = (host: string, port: number) => nodeUrl(seeds[0] as string, `${host}:${port}`);
  for (const s of seeds) {
    const u = new URL(s);
    out.set(`${u.hostname}:${u.port || 6379}`, s);
  }
  for (const s of seeds) {
    const c = new Redis(s, {
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 2000,
      maxRetriesPerRequest: 0,
      enableReadyCheck: false,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    c.on("error", () => {});
    try {
      await c.connect();
      const slots = (await c.call("CLUSTER", "SLOTS")) as [number, number, ...[string, number, string?][]][];
      for (const [, , ...owners] of slots) {
        for (const [host, port] of owners) out.set(`${host}:${port}`, withAuth(host, Number(port)));
      }
      break;
    } catch {
      // try the next seed
    } finally {
      c.disconnect();
    }
  }
  return [...out.values()];
}
