import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkConsistency, differences, type TableReport } from "../../origin/ch/consistency.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { runWorkload } from "./support/workload.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** Zero differences, or a readable summary of what differs. */
async function settle(h: CdcHarness, timeoutMs: number): Promise<TableReport[]> {
  let last: TableReport[] = [];
  try {
    await waitFor(
      async () => {
        last = await checkConsistency(h.pg, h.ch);
        return last.every((r) => differences(r) === 0);
      },
      timeoutMs,
      "ClickHouse to match PostgreSQL",
    );
  } catch {
    // fall through with the last report for the assertion message
  }
  return last;
}

function summary(reports: TableReport[]): string {
  return reports
    .filter((r) => differences(r) > 0)
    .map(
      (r) =>
        `${r.table}: missing ${r.missingInClickHouse.length}, extra ${r.extraInClickHouse.length}, different ${r.different.length}`,
    )
    .join("; ");
}

/** Counts kept by the materialized views must equal the live counts in PostgreSQL. */
async function countsMatch(h: CdcHarness): Promise<{ likes: boolean; comments: boolean; followers: boolean }> {
  const pgCounts = async (sql: string) =>
    new Map((await h.pg.query<{ k: string; n: string }>(sql)).rows.map((r) => [r.k, Number(r.n)]));
  const chCounts = async (sql: string) =>
    new Map(
      (await (await h.ch.query({ query: sql, format: "JSONEachRow" })).json<{ k: string; n: string }>()).map((r) => [
        r.k,
        Number(r.n),
      ]),
    );
  const same = (a: Map<string, number>, b: Map<string, number>) =>
    a.size === b.size && [...a].every(([k, n]) => b.get(k) === n);
  return {
    likes: same(
      await pgCounts(
        "SELECT post_id::text AS k, count(*) AS n FROM likes WHERE deleted_at IS NULL AND user_id <> post_author_id GROUP BY post_id",
      ),
      await chCounts(
        "SELECT toString(post_id) AS k, sum(likes) AS n FROM post_metrics_1h GROUP BY post_id HAVING n != 0",
      ),
    ),
    comments: same(
      await pgCounts(
        "SELECT post_id::text AS k, count(*) AS n FROM comments WHERE deleted_at IS NULL AND author_id <> post_author_id GROUP BY post_id",
      ),
      await chCounts(
        "SELECT toString(post_id) AS k, sum(comments) AS n FROM post_metrics_1h GROUP BY post_id HAVING n != 0",
      ),
    ),
    followers: same(
      await pgCounts(
        "SELECT followee_id::text AS k, count(*) AS n FROM follows WHERE deleted_at IS NULL GROUP BY followee_id",
      ),
      await chCounts(
        "SELECT toString(author_id) AS k, sum(followers) AS n FROM author_stats GROUP BY author_id HAVING n != 0",
      ),
    ),
  };
}

describe("CDC exactly once in effect", () => {
  let h: CdcHarness;

  beforeAll(async () => {
    h = await startCdcHarness();
  }, 180_000);

  afterAll(async () => {
    await h?.teardown();
  }, 60_000);

  it("after a randomized workload of 10,000 writes the consistency check finds zero differences", async () => {
    const t0 = Date.now();
    const w = await runWorkload(h.pg, { seed: 20261125, writes: 10_000 });
    const writeMs = Date.now() - t0;
    const reports = await settle(h, 60_000);
    const settledMs = Date.now() - t0;
    console.log(
      `workload: ${w.writes} writes in ${writeMs} ms; ClickHouse consistent ${settledMs - writeMs} ms after the last write; ` +
        `sink inserted ${h.sink.stats.rowsInserted} rows in ${h.sink.stats.batches} batches`,
    );
    expect(w.writes).toBeGreaterThanOrEqual(10_000);
    expect(summary(reports)).toBe("");
    expect(reports.every((r) => differences(r) === 0)).toBe(true);
    expect(await countsMatch(h)).toEqual({ likes: true, comments: true, followers: true });
  }, 180_000);

  it("Kafka Connect killed and restarted mid-stream: nothing lost, nothing doubled", async () => {
    const pidFile = resolve(ROOT, ".stack/run/connect.pid");
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    expect(pid).toBeGreaterThan(0);
    const writes = runWorkload(h.pg, { seed: 7, writes: 3000, concurrency: 2 });
    await new Promise((r) => setTimeout(r, 1500));
    process.kill(pid, "SIGKILL"); // no graceful offset flush: the worst case for redelivery
    // Connect comes back whatever the workload did: the rest of the suite needs it.
    const restart = () =>
      spawnSync(resolve(ROOT, "node_modules/.bin/tsx"), ["scripts/local/stack/cli.ts", "up"], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 180_000,
      });
    let up: ReturnType<typeof restart>;
    let done: Awaited<typeof writes>;
    try {
      done = await writes;
    } finally {
      up = restart();
    }
    expect(up.status, up.stdout + up.stderr).toBe(0);
    const reports = await settle(h, 120_000);
    console.log(
      `connect kill: ${done.writes} writes; duplicates skipped by the sink so far: ${h.sink.stats.duplicatesSkipped}; ` +
        `connector restarts by the watcher: ${h.manager.stats.restarts}`,
    );
    expect(summary(reports)).toBe("");
    expect(await countsMatch(h)).toEqual({ likes: true, comments: true, followers: true });
  }, 300_000);
});
