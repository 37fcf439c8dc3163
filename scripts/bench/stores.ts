/**
 * What each store holds for one bench dataset (memory and disk per store at each
 * scale): PostgreSQL's database on disk (split into the product's write store and the
 * baseline's own tables and indexes), ClickHouse's parts on disk, the Kafka topics' log
 * segments, the serving index's memory in Redis, and the resident memory of the processes that
 * hold data in memory (Redis, the chDB gateway, the origin).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import type pg from "pg";

const ROOT = resolve(import.meta.dirname, "../..");
const MIB = 2 ** 20;

export interface StoreSizes {
  postgres_mib: number;
  /** Tables and indexes only the baseline uses (bench_* and its indexes on shared tables). */
  postgres_baseline_only_mib: number;
  postgres_product_mib: number;
  clickhouse_disk_mib: number;
  clickhouse_rows: number;
  /** null when this checkout has no local Kafka data directory (a remote broker, or a worktree). */
  kafka_topics_mib: number | null;
  redis_index_mib: number;
  redis_used_memory_mib: number;
  redis_rss_mib: number;
  ch_gateway_rss_mib: number | null;
  origin_rss_mib: number | null;
}

const mib = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirBytes(p);
    // Allocated blocks, not the apparent size: Kafka preallocates its index files sparsely.
    else if (e.isFile()) total += statSync(p).blocks * 512;
  }
  return total;
}

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Resident set size of a process and its descendants from /proc (Linux; `tsx` runs the script
 * in a child node), null when it is not running.
 */
export function rssMib(pid: number | undefined): number | null {
  if (!pid || rssKb(pid) === 0) return null;
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // exited meanwhile
    }
  }
  let kb = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop() as number;
    kb += rssKb(p);
    todo.push(...(children.get(p) ?? []));
  }
  return Math.round((kb / 1024) * 10) / 10;
}

function pidFile(name: string): number | undefined {
  try {
    return Number(readFileSync(resolve(ROOT, `.stack/run/${name}.pid`), "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

export async function storeSizes(opts: {
  pool: pg.Pool;
  ch: ClickHouseClient;
  redis: Redis;
  database: string;
  topicNamespace: string;
  indexBytes: number;
  originPid?: number;
}): Promise<StoreSizes> {
  const { pool, ch, redis, database, topicNamespace, indexBytes, originPid } = opts;
  const total = await pool.query<{ b: string }>("SELECT pg_database_size(current_database())::text AS b");
  // The baseline's own relations: its tables and views (bench_*) with their indexes and TOAST,
  // and the indexes it adds to the shared tables (bench_*_idx).
  const baselineOnly = await pool.query<{ b: string | null }>(
    `SELECT sum(CASE WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid) ELSE pg_relation_size(c.oid) END)::text AS b
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname LIKE 'bench\\_%'
        AND (c.relkind IN ('r', 'm') OR (c.relkind = 'i' AND NOT EXISTS (
              SELECT 1 FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
               WHERE i.indexrelid = c.oid AND t.relname LIKE 'bench\\_%')))`,
  );
  const rs = await ch.query({
    query:
      "SELECT toString(sum(bytes_on_disk)) AS b, toString(sum(rows)) AS r FROM system.parts WHERE database = {db:String} AND active",
    query_params: { db: database },
    format: "JSONEachRow",
  });
  const parts = (await rs.json<{ b: string; r: string }>())[0];
  const logDirs = resolve(ROOT, ".stack/data/kafka/kraft-logs");
  let kafka: number | null = null;
  if (existsSync(logDirs)) {
    kafka = 0;
    for (const d of readdirSync(logDirs)) if (d.startsWith(topicNamespace)) kafka += dirBytes(join(logDirs, d));
  }
  const info = await redis.info("memory");
  const field = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(info)?.[1] ?? 0);
  const pgTotal = Number(total.rows[0]?.b ?? 0);
  const pgBaseline = Number(baselineOnly.rows[0]?.b ?? 0);
  return {
    postgres_mib: mib(pgTotal),
    postgres_baseline_only_mib: mib(pgBaseline),
    postgres_product_mib: mib(pgTotal - pgBaseline),
    clickhouse_disk_mib: mib(Number(parts?.b ?? 0)),
    clickhouse_rows: Number(parts?.r ?? 0),
    kafka_topics_mib: kafka === null ? null : mib(kafka),
    redis_index_mib: mib(indexBytes),
    redis_used_memory_mib: mib(field("used_memory")),
    redis_rss_mib: mib(field("used_memory_rss")),
    ch_gateway_rss_mib: rssMib(pidFile("ch-gateway")),
    origin_rss_mib: rssMib(originPid),
  };
}
