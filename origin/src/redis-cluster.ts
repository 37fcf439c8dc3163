/**
 * The origin's Redis on a Redis Cluster as well as on one node: the client type either can be,
 * and the three things that differ between them.
 *
 * - Pipelines (`pipelineOf`). An ioredis `Cluster` refuses a `pipeline()` whose keys sit on more
 *   than one node ("All keys in the pipeline should belong to the same slots allocation group"),
 *   and the origin's pipelines mix users and posts. On a Cluster `pipelineOf` hands out a stand-in
 *   that records the queued commands and, at `exec()`, issues each on the Cluster itself in one
 *   tick: the Cluster routes each by its key's slot and `enableAutoPipelining` (set by
 *   `clusterFromNodes`) writes the commands of each node as one pipeline, so the batch still costs
 *   one round trip per node. Replies come back in queue order, as `[error, reply]` pairs.
 * - SCAN (`scanAll`) sees one node: on a Cluster it walks every master.
 * - Multi-key commands must stay in one slot (`unlinkKeys` groups by slot).
 *
 * See docs/scale.md ("Redis Cluster: keys and slots").
 */
import { type ChainableCommander, Cluster, type ClusterOptions, Command, type Redis } from "ioredis";

export type AnyRedis = Redis | Cluster;

export function isCluster(r: AnyRedis): r is Cluster {
  return (r as { isCluster?: boolean }).isCluster === true;
}

// ---------------------------------------------------------------------------------------------
// Slots

export const SLOT_COUNT = 16384;

/** CRC16/XMODEM (polynomial 0x1021, initial 0), what Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/**
 * The slot of a key: only the part between the first `{` and the next `}` is hashed when that
 * part is not empty (a hash tag), so `x:{42}:a` and `y:{42}` share a slot.
 */
export function keySlot(key: string | Buffer): number {
  const bytes = typeof key === "string" ? Buffer.from(key) : key;
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % SLOT_COUNT;
  }
  return crc16(bytes) % SLOT_COUNT;
}

// ---------------------------------------------------------------------------------------------
// Building a Cluster

/** Seed nodes and the credentials of a REDIS_CLUSTER_NODES value. */
export interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  /** A `rediss://` seed: TLS to every node. */
  tls: boolean;
}

/**
 * Parses `host:port,host:port` (or `redis://[user:password@]host:port`, `rediss://…`; the first
 * URL with credentials gives them to every node). Throws on an empty list or a bad entry.
 */
export function parseClusterNodes(nodes: string): ClusterSeeds {
  const entries = nodes
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error("no cluster seed nodes");
  const out: ClusterSeeds = { nodes: [], tls: false };
  for (const entry of entries) {
    let host: string;
    let port: number;
    if (entry.includes("://")) {
      const u = new URL(entry);
      if (u.protocol !== "redis:" && u.protocol !== "rediss:") throw new Error(`${entry}: not a redis:// URL`);
      host = u.hostname.replace(/^\[|\]$/g, "");
      port = u.port ? Number(u.port) : 6379;
      if (u.protocol === "rediss:") out.tls = true;
      if ((u.username || u.password) && out.password === undefined && out.username === undefined) {
        if (u.username) out.username = decodeURIComponent(u.username);
        if (u.password) out.password = decodeURIComponent(u.password);
      }
    } else {
      const i = entry.lastIndexOf(":");
      if (i <= 0) throw new Error(`${entry}: expected host:port`);
      host = entry.slice(0, i).replace(/^\[|\]$/g, "");
      port = Number(entry.slice(i + 1));
    }
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${entry}: expected host:port`);
    out.nodes.push({ host, port });
  }
  return out;
}

/**
 * Commands whose first argument is not their (first) key. ioredis's auto-pipelining files a
 * command under the node of its first argument's slot, so one of these lands in another node's
 * pipeline and ioredis fails that whole pipeline: this command and every other command of that
 * node in the same tick ("All keys in the pipeline should belong to the same slots allocation
 * group"). A Cluster from clusterFromNodes sends them on their own (`autoPipeliningIgnoredCommands`),
 * routed by their real key; `pipelineOf` also checks every command itself (safeForAutoPipeline).
 */
export const FIRST_ARGUMENT_NOT_A_KEY = [
  "eval",
  "evalsha",
  "eval_ro",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
  "xread",
  "xreadgroup",
  "xinfo",
  "xgroup",
  "object",
  "memory",
  "bitop",
  "zunion",
  "zinter",
  "zdiff",
  "zintercard",
  "sintercard",
  "lmpop",
  "zmpop",
  "blmpop",
  "bzmpop",
  "migrate",
];

export interface ClusterFromNodesOptions extends ClusterOptions {
  /**
   * A client that waits on blocking reads (the relay's): its commands wait for Redis instead of
   * failing after one retry (as `redis({ blocking })` in clients.ts).
   */
  blocking?: boolean;
}

/**
 * An ioredis `Cluster` on the seed nodes of `nodes` (see parseClusterNodes), set up as the origin
 * uses it: `lazyConnect` (connects at `connect()` or its first command, as clients.ts's standalone
 * client), `enableAutoPipelining` (what makes `pipelineOf` one round trip per node), reads from
 * masters only (`scaleReads: "master"`: the index is read after its own writes), the commands of
 * FIRST_ARGUMENT_NOT_A_KEY kept out of auto-pipelining, and a command that fails after one retry
 * unless `blocking`. `opts` override any of it.
 */
export function clusterFromNodes(nodes: string, opts: ClusterFromNodesOptions = {}): Cluster {
  const seeds = parseClusterNodes(nodes);
  const { blocking = false, redisOptions, ...rest } = opts;
  return new Cluster(seeds.nodes, {
    lazyConnect: true,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: FIRST_ARGUMENT_NOT_A_KEY,
    scaleReads: "master",
    ...rest,
    redisOptions: {
      maxRetriesPerRequest: blocking ? null : 1,
      ...(seeds.username !== undefined ? { username: seeds.username } : {}),
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {}),
      ...redisOptions,
    },
  });
}

/** Resolves once the Cluster knows its slots (and so its masters), connecting a lazy one. */
export async function clusterReady(cluster: Cluster, timeoutMs = 30_000): Promise<void> {
  if (cluster.status === "ready") return;
  if (cluster.status === "end") throw new Error("Connection is closed.");
  // Not delayUntilReady: it answers once the slots are known, while the status may still be
  // "connect", and a second call then waits for a "ready" it has missed (found: a scan of every
  // master hung right after the first call).
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      cluster.off("ready", onReady);
      cluster.off("end", onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const onEnd = () => done(new Error("Connection is closed."));
    const timer = setTimeout(
      () => done(new Error(`the Redis Cluster was not ready within ${timeoutMs} ms (status ${cluster.status})`)),
      timeoutMs,
    );
    cluster.once("ready", onReady);
    cluster.once("end", onEnd);
    if (cluster.status === "wait") cluster.connect().catch(() => {}); // a failure ends in "end" or the timeout
  });
}

// ---------------------------------------------------------------------------------------------
// Pipelines

type Reply = [Error | null, unknown];
type Fn = (...args: unknown[]) => unknown;
type Callback = (err: Error | null, value?: unknown) => void;

/**
 * Commands ioredis never auto-pipelines (ioredis 5 autoPipelining.ts
 * `notAllowedAutoPipelineCommands`): they are written at once, ahead of an auto-pipeline of the
 * same tick, so a batch holding one is sent without auto-pipelining (see `safeForAutoPipeline`).
 */
const NOT_AUTO_PIPELINED = new Set([
  "auth",
  "info",
  "script",
  "quit",
  "cluster",
  "pipeline",
  "multi",
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "unpsubscribe",
  "select",
  "client",
]);

/** Not for a cluster pipeline: transactions (ioredisAtomic / `cluster.multi()`), connection state. */
const REFUSED = new Set(["multi", "exec", "discard", "watch", "unwatch", "pipeline", "quit", "monitor"]);

/** The value ioredis's auto-pipelining hashes to pick a command's node (its getFirstValueInFlattenedArray). */
function groupingValue(args: unknown[]): unknown {
  for (const arg of args) {
    if (typeof arg === "string") return arg;
    if (Array.isArray(arg)) {
      if (arg.length === 0) continue;
      return arg[0];
    }
    const flat = [arg].flat();
    if (flat.length > 0) return flat[0];
  }
  return undefined;
}

interface Script {
  numberOfKeys: number | null;
  sha: string;
}

/** What a recorded method is on this Cluster: a builtin command, `call`, or a defineCommand'd script. */
interface Resolved {
  /** The Redis command (or the script's name). */
  command: string;
  script?: Script;
  /** The command's arguments (for `call`, without the command name). */
  args: unknown[];
}

function resolveMethod(cluster: Cluster, method: string, args: unknown[]): Resolved {
  const scripts = cluster.scriptsSet as Record<string, Script>;
  const base = method.endsWith("Buffer") ? method.slice(0, -"Buffer".length) : method;
  const own = Object.hasOwn(scripts, method) ? method : Object.hasOwn(scripts, base) ? base : null;
  if (own) return { command: own, script: scripts[own] as Script, args };
  if (base === "call") return { command: String(args[0]), args: args.slice(1) };
  return { command: base, args };
}

/**
 * Whether ioredis's auto-pipelining will put this command in the pipeline of the node that owns
 * its keys. It picks the node by the slot of the first argument, so a command whose first
 * argument is not its key (EVAL/EVALSHA, XREADGROUP, OBJECT …) lands in another node's pipeline,
 * and ioredis then fails that whole pipeline (every command of that node in the tick, not just
 * this one) with "All keys in the pipeline should belong to the same slots allocation group".
 * The same for a command whose keys span slots ("All the keys in a pipeline command should belong
 * to the same slot"). Judged by slot, not node, so it needs no topology: safe means the grouping
 * value and every key hash to one slot, or the command has no keys at all. A command ioredis does
 * not auto-pipeline (NOT_AUTO_PIPELINED, the Cluster's `autoPipeliningIgnoredCommands`) is not
 * safe either: it would be written at once, ahead of the auto-pipelined commands queued before it.
 */
function safeForAutoPipeline(cluster: Cluster, r: Resolved): boolean {
  const name = r.command.toLowerCase();
  if (NOT_AUTO_PIPELINED.has(name) || (cluster.options.autoPipeliningIgnoredCommands ?? []).includes(r.command)) {
    return false;
  }
  const prefix = cluster.options.keyPrefix ?? "";
  let keys: (string | Buffer)[];
  try {
    const args = r.script
      ? [
          "evalsha",
          r.script.sha,
          ...(typeof r.script.numberOfKeys === "number" ? [r.script.numberOfKeys] : []),
          ...r.args,
        ]
      : [r.command, ...r.args];
    const [cmd, ...rest] = args as [string, ...(string | Buffer | number)[]];
    keys = new Command(cmd, rest, { keyPrefix: prefix }).getKeys();
  } catch {
    return false;
  }
  if (keys.length === 0) return true;
  const slot = keySlot(keys[0] as string | Buffer);
  if (keys.some((k) => keySlot(k) !== slot)) return false;
  return keySlot(`${prefix}${groupingValue(r.args)}`) === slot;
}

/**
 * Issues every recorded command on the Cluster in this tick; the replies in queue order, an
 * error in its own entry. With auto-pipelining on (and every command safe for it), ioredis
 * writes each node's share as one pipeline, in queue order; otherwise the whole batch goes
 * without it (auto-pipelining switched off for these calls only, synchronously, so no other
 * caller is affected): each command is written to its node's connection at once, which keeps
 * queue order per node too and still costs one round trip per node.
 */
function execOnCluster(cluster: Cluster, queue: [string, unknown[], Callback | undefined][]): Promise<Reply[]> {
  const resolved = queue.map(([method, args]) => resolveMethod(cluster, method, args));
  const auto = cluster.options.enableAutoPipelining === true;
  const direct = auto && !resolved.every((r) => safeForAutoPipeline(cluster, r));
  const target = cluster as unknown as Record<string, Fn>;
  const pending: Promise<Reply>[] = [];
  if (direct) cluster.options.enableAutoPipelining = false;
  try {
    for (const [method, args, cb] of queue) {
      let p: Promise<unknown>;
      try {
        p = Promise.resolve(target[method]?.(...args));
      } catch (err) {
        p = Promise.reject(err);
      }
      pending.push(
        p.then(
          (value): Reply => {
            cb?.(null, value);
            return [null, value];
          },
          (err: Error): Reply => {
            cb?.(err);
            return [err] as unknown as Reply; // as ioredis: an error entry holds the error alone
          },
        ),
      );
    }
  } finally {
    if (direct) cluster.options.enableAutoPipelining = true;
  }
  return Promise.all(pending);
}

/**
 * A pipeline of `redis`: on a standalone Redis `redis.pipeline()`; on a Cluster a stand-in used
 * the same way (commands queued by method name and chained, `call(cmd, …args)`, scripts from
 * `defineCommand`, `addBatch`, `length`) whose `exec()` resolves to `[error, reply]` per command
 * in queue order and never rejects for one command's error. It issues every command on the
 * Cluster in one tick (see execOnCluster): one round trip per node, commands of one slot in
 * queue order. Not `cluster.pipeline()`, which refuses keys on more than one node. No
 * MULTI/EXEC inside it: use `cluster.multi()` (ioredisAtomic) with keys in one slot.
 */
export function pipelineOf(redis: AnyRedis): ChainableCommander {
  if (!isCluster(redis)) return redis.pipeline();
  const cluster = redis;
  const builtins = new Set(cluster.getBuiltinCommands());
  const queue: [string, unknown[], Callback | undefined][] = [];
  let done: Promise<Reply[]> | undefined;

  const isCommand = (method: string): boolean => {
    const base = method.endsWith("Buffer") ? method.slice(0, -"Buffer".length) : method;
    if (REFUSED.has(base)) return false;
    const scripts = cluster.scriptsSet;
    return (
      base === "call" ||
      builtins.has(base) ||
      Object.hasOwn(scripts, method) ||
      cluster.addedBuiltinSet.has(base) ||
      (base !== method && Object.hasOwn(scripts, base))
    );
  };
  const record = (method: string, args: unknown[]) => {
    if (done) throw new Error("pipelineOf: this pipeline has been executed");
    const last = args[args.length - 1];
    const cb = typeof last === "function" ? (args.pop() as Callback) : undefined;
    queue.push([method, args, cb]);
  };
  const exec = (callback?: (err: Error | null, res?: Reply[]) => void): Promise<Reply[]> => {
    done ??= queue.length === 0 ? Promise.resolve([]) : execOnCluster(cluster, queue);
    if (callback) done.then((res) => callback(null, res), callback);
    return done;
  };

  const proxy: ChainableCommander = new Proxy(Object.create(null) as object, {
    get(_target, prop) {
      if (typeof prop === "symbol" || prop === "then") return undefined; // not a thenable
      if (prop === "exec") return exec;
      if (prop === "length") return queue.length;
      if (prop === "isPipeline") return true;
      if (prop === "redis") return cluster;
      if (prop === "addBatch") {
        return (commands: unknown[][]) => {
          for (const [method, ...args] of commands) {
            const fn = (proxy as unknown as Record<string, Fn | undefined>)[String(method)];
            if (!fn) throw new TypeError(`pipelineOf: ${String(method)} is not a Redis command`);
            fn(...args);
          }
          return proxy;
        };
      }
      if (!isCommand(prop)) {
        if (REFUSED.has(prop)) {
          return () => {
            throw new Error(`pipelineOf: ${prop} is not available on a cluster pipeline (use cluster.multi())`);
          };
        }
        return undefined;
      }
      return (...args: unknown[]) => {
        record(prop, args);
        return proxy;
      };
    },
  }) as ChainableCommander;
  return proxy;
}

/** `pipelineOf(redis)` with `commands` (`[method, ...args]`, lower-case names) queued, as `redis.pipeline(commands)`. */
export function pipelineFromCommands(redis: AnyRedis, commands: unknown[][]): ChainableCommander {
  if (!isCluster(redis)) return redis.pipeline(commands);
  return (pipelineOf(redis) as unknown as { addBatch(c: unknown[][]): ChainableCommander }).addBatch(commands);
}

// ---------------------------------------------------------------------------------------------
// SCAN and deleting what it found

/** The masters of a Cluster (connecting a lazy one), or the standalone node itself. */
export async function scanNodes(redis: AnyRedis): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  await clusterReady(redis);
  const masters = redis.nodes("master");
  if (masters.length === 0) throw new Error("the Redis Cluster lists no master");
  return masters;
}

/**
 * Pages of keys matching `pattern` (SCAN MATCH, COUNT `count`), each non-empty page as SCAN
 * returned it: from the standalone node, or from every master of a Cluster (each scanned to
 * completion in turn; a SCAN of a cluster client sees one node). As SCAN itself, a key may come
 * twice, and keys written meanwhile may or may not come.
 */
export async function* scanAll(redis: AnyRedis, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of await scanNodes(redis)) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== "0");
  }
}

/** Keys grouped by slot, each group in the order given. */
export function groupBySlot<K extends string | Buffer>(keys: K[]): K[][] {
  const groups = new Map<number, K[]>();
  for (const k of keys) {
    const slot = keySlot(k);
    const g = groups.get(slot);
    if (g) g.push(k);
    else groups.set(slot, [k]);
  }
  return [...groups.values()];
}

/**
 * UNLINKs `keys`: one command on a standalone Redis; on a Cluster one UNLINK per slot (a
 * multi-key command must stay in one slot), all sent at once. Returns how many existed.
 */
export async function unlinkKeys(redis: AnyRedis, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(redis)) return redis.unlink(...keys);
  const counts = await Promise.all(groupBySlot(keys).map((group) => redis.unlink(...group)));
  return counts.reduce((a, b) => a + b, 0);
}
