/**
 * What every benchmark phase (scripts/bench/phases/*.ts) is given: the running system, the
 * baseline, the users, and where figures go. run.ts builds it once, after the dataset is loaded
 * and every process is up; each phase owns its own setup, load and figures.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import type pg from "pg";
import type { IndexKeys } from "#core/keys.ts";
import type { PlainWorkerd } from "../lib/workerd.ts";
import type { WranglerDev } from "../lib/wrangler.ts";
import type { BaselineServer } from "./baseline.ts";
import type { Figure } from "./report.ts";

export interface Bench {
  /** bench_<scale>: the databases, topics, connector and Redis namespace of this run. */
  name: string;
  /** Seconds per timed phase (--seconds). */
  phaseSeconds: number;
  redis: Redis;
  pool: pg.Pool;
  ch: ClickHouseClient;
  /** The bench's serving index (its own namespace). */
  keys: IndexKeys;
  /** The edge under `wrangler dev`, serving the built bundle. */
  edge: WranglerDev;
  /** The same bundle under plain workerd (the production runtime). */
  plain: PlainWorkerd;
  /** An edge whose index namespace was never bootstrapped: every miss is the ClickHouse query. */
  cold: WranglerDev;
  baseline: BaselineServer;
  /** The edge's vars (Redis, ClickHouse, origin, secrets), for phases that start another worker. */
  edgeVars: Record<string, string>;
  bundleEntry: string;
  jwtSecret: string;
  bridgeUrl: string;
  bridgeToken: string;
  /** Users by activity (events), most active first. */
  active: string[];
  /** 330 viewers outside the 200 most active (the warmer keeps those); the last 30 warm runtimes up. */
  sample: string[];
  /** The run's seeded PRNG. */
  rand: () => number;
  auth(user: string): { authorization: string };
  tokenOf(user: string): Promise<string>;
  pickDistinct(from: string[], n: number): string[];
  figures: Figure[];
  details: Record<string, unknown>;
}

export const log = (msg: string): void => console.log(`[bench] ${msg}`);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
