/**
 * Compares PostgreSQL (the source of truth) with ClickHouse's resolved CDC views, table by
 * table: live row counts, an order-independent digest of every row, and every differing row
 * (missing in ClickHouse, extra in ClickHouse, or different). Rows are streamed from both
 * sides in key order in pages, so tables of millions of rows fit in memory.
 */
import { createHash } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import type pg from "pg";
import { CDC_TABLES, type CdcTable } from "#core/topics.ts";

interface Spec {
  /** PostgreSQL primary key columns (the comparison key). */
  key: string[];
  /** Compared columns besides the key. */
  cols: string[];
  times: string[];
}

const T = ["created_at", "updated_at", "deleted_at"];
const CONSISTENCY_SPECS: Record<CdcTable, Spec> = {
  users: { key: ["id"], cols: ["handle", "display_name", "bio"], times: T },
  posts: { key: ["id"], cols: ["author_id", "text"], times: T },
  follows: { key: ["follower_id", "followee_id"], cols: [], times: T },
  likes: { key: ["user_id", "post_id"], cols: ["post_author_id"], times: T },
  comments: { key: ["id"], cols: ["post_id", "author_id", "post_author_id", "text"], times: T },
  blocks: { key: ["blocker_id", "blocked_id"], cols: [], times: T },
};

export interface Row {
  k: string;
  /** JSON of the compared values (times as epoch ms, null for a null deleted_at). */
  v: string;
  live: number;
}

export interface TableReport {
  table: CdcTable;
  pg: { rows: number; live: number; digest: string };
  ch: { rows: number; live: number; digest: string };
  missingInClickHouse: string[];
  extraInClickHouse: string[];
  different: { key: string; pg: string; ch: string }[];
  /** Differences beyond those listed (lists are capped). */
  unlisted: number;
}

const PAGE = 50_000;
const MAX_LISTED = 50;

function pgSelect(table: CdcTable): string {
  const s = CONSISTENCY_SPECS[table];
  const key = s.key.map((k) => `${k}::text`).join(" || '|' || ");
  const vals = [
    ...s.cols.map((c) => `${c}::text`),
    ...s.times.map((t) => `(floor(extract(epoch FROM ${t}) * 1000))::bigint::text`),
  ];
  // COLLATE "C": byte order, the same order ClickHouse uses for strings.
  return `SELECT k, v, live FROM (
      SELECT (${key}) COLLATE "C" AS k, json_build_array(${vals.join(", ")})::text AS v,
             (deleted_at IS NULL)::int AS live
      FROM ${table}) t
    WHERE k > $1 ORDER BY k LIMIT ${PAGE}`;
}

function chSelect(table: CdcTable): string {
  const s = CONSISTENCY_SPECS[table];
  const key = s.key.map((k) => `toString(${k})`).join(", '|', ");
  const vals = [
    ...s.cols.map((c) => `toString(${c})`),
    ...s.times.map((t) => `if(isNull(${t}), NULL, toString(toUnixTimestamp64Milli(assumeNotNull(${t}))))`),
  ];
  return `SELECT k, toJSONString([${vals.join(", ")}]) AS v, toUInt8(isNull(deleted_at)) AS live FROM (
      SELECT concat(${key}) AS k, * FROM ${table}_current) WHERE k > {after:String} ORDER BY k LIMIT ${PAGE}`;
}

/** Normalizes a JSON array of values to one canonical text (both sides print JSON slightly differently). */
export function canonical(v: string): string {
  const arr = JSON.parse(v) as unknown[];
  return JSON.stringify(arr.map((x) => (x === null ? null : String(x))));
}

async function* pages(fetchPage: (after: string) => Promise<Row[]>): AsyncGenerator<Row> {
  let after = "";
  for (;;) {
    const rows = await fetchPage(after);
    for (const r of rows) yield r;
    if (rows.length < PAGE) return;
    after = (rows[rows.length - 1] as Row).k;
  }
}

/** Merge-compares two key-ordered row streams. Pure apart from consuming the iterators. */
export async function compareStreams(
  table: CdcTable,
  pgRows: AsyncIterator<Row>,
  chRows: AsyncIterator<Row>,
): Promise<TableReport> {
  const report: TableReport = {
    table,
    pg: { rows: 0, live: 0, digest: "" },
    ch: { rows: 0, live: 0, digest: "" },
    missingInClickHouse: [],
    extraInClickHouse: [],
    different: [],
    unlisted: 0,
  };
  // Order-independent digest: XOR of per-row hashes (truncated to 64 bits as bigint).
  let pgDigest = 0n;
  let chDigest = 0n;
  const h = (r: Row) => BigInt(`0x${createHash("sha1").update(`${r.k}\u0000${r.v}`).digest("hex").slice(0, 16)}`);
  const note = (list: unknown[], item: never) => (list.length < MAX_LISTED ? list.push(item) : report.unlisted++);
  const takePg = (r: Row) => {
    report.pg.rows++;
    report.pg.live += Number(r.live);
    pgDigest ^= h(r);
  };
  const takeCh = (r: Row) => {
    report.ch.rows++;
    report.ch.live += Number(r.live);
    chDigest ^= h(r);
  };
  let a = await pgRows.next();
  let b = await chRows.next();
  while (!a.done || !b.done) {
    const pa = a.done ? null : { ...a.value, v: canonical(a.value.v) };
    const cb = b.done ? null : { ...b.value, v: canonical(b.value.v) };
    if (pa && (!cb || pa.k < cb.k)) {
      takePg(pa);
      note(report.missingInClickHouse, pa.k as never);
      a = await pgRows.next();
    } else if (cb && (!pa || cb.k < pa.k)) {
      takeCh(cb);
      note(report.extraInClickHouse, cb.k as never);
      b = await chRows.next();
    } else if (pa && cb) {
      takePg(pa);
      takeCh(cb);
      if (pa.v !== cb.v) note(report.different, { key: pa.k, pg: pa.v, ch: cb.v } as never);
      a = await pgRows.next();
      b = await chRows.next();
    }
  }
  report.pg.digest = pgDigest.toString(16).padStart(16, "0");
  report.ch.digest = chDigest.toString(16).padStart(16, "0");
  return report;
}

export async function checkConsistency(
  pool: pg.Pool,
  ch: ClickHouseClient,
  tables = CDC_TABLES,
): Promise<TableReport[]> {
  const reports: TableReport[] = [];
  for (const table of tables) {
    const pgPage = async (after: string) => (await pool.query<Row>(pgSelect(table), [after])).rows;
    const chPage = async (after: string) =>
      (await ch.query({ query: chSelect(table), query_params: { after }, format: "JSONEachRow" })).json<Row>();
    reports.push(await compareStreams(table, pages(pgPage), pages(chPage)));
  }
  return reports;
}

export function differences(r: TableReport): number {
  return r.missingInClickHouse.length + r.extraInClickHouse.length + r.different.length + r.unlisted;
}
