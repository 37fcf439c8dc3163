/** Dependency checks behind GET /readyz, each bounded by a timeout. */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Admin } from "kafkajs";
import type pg from "pg";
import type { PartHealth } from "./lifecycle.ts";
import type { AnyRedis } from "./redis-cluster.ts";

export type Check = () => Promise<PartHealth>;

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a probe; ok when it resolves within the timeout, otherwise not ok with the reason. */
export function probe(what: string, fn: () => Promise<unknown>, timeoutMs = 2000): Check {
  return async () => {
    const t0 = Date.now();
    try {
      await withTimeout(fn(), timeoutMs, what);
      return { ok: true, detail: { ms: Date.now() - t0 } };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  };
}

export async function runChecks(checks: Record<string, Check>): Promise<Record<string, PartHealth>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => [name, await check()] as const),
  );
  return Object.fromEntries(entries);
}

/** Whether the app context's services answer: PostgreSQL, ClickHouse, Redis, Kafka. */
export function dependencyChecks(ctx: {
  pg: pg.Pool;
  clickhouse: ClickHouseClient;
  redis: AnyRedis;
  admin: Admin;
}): Record<string, Check> {
  return {
    postgres: probe("PostgreSQL", () => ctx.pg.query("SELECT 1")),
    clickhouse: probe("ClickHouse", async () => {
      const r = await ctx.clickhouse.ping();
      if (!r.success) throw r.error;
    }),
    redis: probe("Redis", () => ctx.redis.ping()),
    kafka: probe("Kafka", () => ctx.admin.describeCluster()),
  };
}
