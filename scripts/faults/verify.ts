/**
 * Verify: once the load has stopped, let ClickHouse drain (until every accepted event is there,
 * or nothing new arrived for 60 s), then wait for the checkers to settle: PostgreSQL ≡ ClickHouse
 * (check:consistency, 90 s), the serving index ≡ ClickHouse (check:index) and ClickHouse's
 * derived data by the counting rules (60 s).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClickHouseClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { indexKeys } from "#core/keys.ts";
import { checkConsistency, differences } from "../../origin/ch/consistency.ts";
import { checkDerived } from "../../origin/ch/derived.ts";
import { checkIndex, type IndexDifference } from "../../origin/src/index/check.ts";
import type { Load } from "./load.ts";
import type { MatrixResult } from "./matrix.ts";
import type { FaultRun } from "./provision.ts";

const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

export interface Drained {
  /** event_id → its copies in events_raw. */
  seen: Map<string, number>;
  /** post_id → views counted in post_metrics_1h. */
  counted: Map<string, number>;
  drainMs: number;
}

export type Checks = Pick<MatrixResult, "consistency" | "index" | "derived">;

export async function drain(ch: ClickHouseClient, load: Load): Promise<Drained> {
  const tDrain = Date.now();
  let seen = await copies(ch);
  let lastChange = Date.now();
  let lastSize = seen.size;
  while ([...load.accepted.keys()].some((k) => !seen.has(k)) && Date.now() - lastChange < 60_000) {
    await sleep(1000);
    seen = await copies(ch);
    if (seen.size !== lastSize) {
      lastSize = seen.size;
      lastChange = Date.now();
    }
  }
  const counted = await byId(
    ch,
    "SELECT toString(post_id) AS id, sum(views) AS n FROM post_metrics_1h GROUP BY post_id",
  );
  return { seen, counted, drainMs: Date.now() - tDrain };
}

/** event_id → post_id of every event in events_raw: the post whose view count an event is in. */
export async function postsOf(ch: ClickHouseClient): Promise<Map<string, string>> {
  const rs = await ch.query({
    query: "SELECT toString(event_id) AS e, toString(post_id) AS p FROM events_raw",
    format: "JSONEachRow",
  });
  return new Map((await rs.json<{ e: string; p: string }>()).map((r) => [r.e, r.p]));
}

/**
 * Copies per event. An event that came before its post has a second row once settled (its author
 * then known; events_raw replaces by event_id): the zero-author row it replaced is not a copy.
 */
const copies = (ch: ClickHouseClient) =>
  byId(
    ch,
    `SELECT toString(event_id) AS id,
            count() - if(countIf(author_id = toUUID('${ZERO_UUID}')) > 0 AND countIf(author_id != toUUID('${ZERO_UUID}')) > 0,
                         countIf(author_id = toUUID('${ZERO_UUID}')), 0) AS n
     FROM events_raw GROUP BY event_id`,
  );

async function byId(ch: ClickHouseClient, query: string): Promise<Map<string, number>> {
  const rs = await ch.query({ query, format: "JSONEachRow" });
  return new Map((await rs.json<{ id: string; n: string }>()).map((r) => [r.id, Number(r.n)]));
}

export async function settleChecks(run: FaultRun, load?: Load): Promise<Checks> {
  return { consistency: await settleConsistency(run), ...(await settleIndexAndDerived(run, load)) };
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const AUTHOR_POST = new RegExp(`fi:ap:(${UUID})$`);
const AFFINITY = new RegExp(`fi:af:(${UUID})$`);

/**
 * The events behind index differences that stayed: for a post's counters, the post's
 * impressions, shares and clicks; for an affinity, the user's shares and clicks of the author's
 * posts. Each with its rows in events_raw (author and counted flag of each insert, without
 * FINAL), whether it still waits in events_pending, and the phase its request was answered 202
 * in: which fault lost or doubled it, and on which side. At most 12 events per difference.
 */
export async function eventsBehind(ch: ClickHouseClient, load: Load, diffs: IndexDifference[]): Promise<string> {
  const out: string[] = [];
  for (const d of diffs.slice(0, 4)) {
    const ap = d.key.match(AUTHOR_POST);
    const af = d.key.match(AFFINITY);
    const post = ap && d.field?.match(new RegExp(`^(${UUID}):n$`))?.[1];
    let where: string;
    let params: Record<string, string>;
    if (post) {
      where = "post_id = toUUID({p:String})";
      params = { p: post };
    } else if (af?.[1] && d.field) {
      where = `user_id = toUUID({u:String}) AND type IN ('share', 'click')
               AND post_id IN (SELECT id FROM posts_by_id FINAL WHERE author_id = toUUID({a:String}))`;
      params = { u: af[1], a: d.field };
    } else continue;
    const rs = await ch.query({
      query: `SELECT toString(e.event_id) AS e, any(toString(e.type)) AS t, any(toString(e.user_id)) AS u,
                     any(toString(e.post_id)) AS p, min(e.received_at) AS at,
                     groupArray(concat(substring(toString(e.author_id), 1, 8), '/', toString(e.counted))) AS inserts,
                     toUInt8(e.event_id IN (SELECT event_id FROM events_pending FINAL)) AS pending
                FROM events_raw AS e
               WHERE e.type IN ('impression', 'share', 'click') AND ${where}
               GROUP BY e.event_id ORDER BY at LIMIT 12`,
      query_params: params,
      format: "JSONEachRow",
    });
    const rows = await rs.json<{
      e: string;
      t: string;
      u: string;
      p: string;
      at: string;
      inserts: string[];
      pending: number;
    }>();
    const s8 = (id: string) => id.slice(0, 8);
    const told = rows.map(
      (r) =>
        `${r.t} ${s8(r.e)} by ${s8(r.u)} of ${s8(r.p)} at ${r.at.slice(11)} (${load.accepted.get(r.e) ?? "not answered 202"}; rows author/counted ${r.inserts.join(" ")}${r.pending ? "; pending" : ""})`,
    );
    out.push(`${d.key.split(":").slice(-2).join(":")} ${d.field}: ${told.join(", ") || "no events"}`);
  }
  return out.join(" | ");
}

/** PostgreSQL ≡ ClickHouse: the CDC side may still be catching up after the last restart. */
async function settleConsistency(run: FaultRun): Promise<Checks["consistency"]> {
  const t0 = Date.now();
  for (;;) {
    const reports = await checkConsistency(run.world.pool, run.world.ch);
    const diff = reports.reduce((s, r) => s + differences(r), 0);
    const report = reports
      .map((r) => `${r.table}: pg ${r.pg.live} live / ch ${r.ch.live} live, ${differences(r)} differences`)
      .join("; ");
    if (diff === 0 || Date.now() - t0 > 90_000) return { differences: diff, report };
    await sleep(2000);
  }
}

/** The serving index ≡ ClickHouse, and ClickHouse's derived data by the rules, once settled. */
async function settleIndexAndDerived(run: FaultRun, load?: Load): Promise<Pick<Checks, "index" | "derived">> {
  const redis = new Redis(run.stack.redisUrl, { maxRetriesPerRequest: 2 });
  const { ch } = run.world;
  try {
    const t0 = Date.now();
    for (;;) {
      const r = await checkIndex(ch, redis, indexKeys(run.world.names.indexNamespace), 10);
      const index = {
        differences: r.total,
        report: r.differences
          .map((d) => `${d.key} ${d.field ?? ""}: index ${d.index} | clickhouse ${d.clickhouse}`)
          .join("; "),
      };
      const rules = await checkDerived(ch, 3);
      const derived = {
        violations: rules.reduce((n, d) => n + d.violations, 0),
        zeroAuthors: rules.find((d) => d.rule === "events_raw.author_id")?.violations ?? -1,
        report: rules
          .filter((d) => d.violations > 0)
          .map((d) => `${d.rule}: ${d.violations} (${d.examples.map((e) => `${e.key} ${e.detail}`).join(", ")})`)
          .join("; "),
      };
      if (index.differences === 0 && derived.violations === 0) return { index, derived };
      if (Date.now() - t0 > 60_000) {
        const behind = load && r.total > 0 ? await eventsBehind(ch, load, r.differences).catch(String) : "";
        if (behind) index.report += `. Events behind them: ${behind}`;
        return { index, derived };
      }
      await sleep(2000);
    }
  } finally {
    redis.disconnect();
  }
}
