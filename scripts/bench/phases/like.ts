/** Bench phase 5: a like → the liker's next feed. */

import { createClient } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { percentile } from "../load.ts";
import { latency } from "../report.ts";

export async function likePhase(b: Bench): Promise<void> {
  const { edge, baseline, pool, sample, auth, figures, details } = b;
  log("like → the liker's next feed");
  const fresh: number[] = [];
  const freshBase: number[] = [];
  type Item = { post_id: string; score: number; explain?: { engagement: number } };
  const feedOf = async (base: string, u: string) => {
    const query = base === edge.url ? { limit: 100, explain: "1" as const } : { limit: 100 };
    const res = await createClient({ baseUrl: base, headers: auth(u) }).send("getFeed", { query });
    if (!res.ok) throw new Error(`${base} feed answered ${res.status}: ${res.error.message}`);
    return res.data.items as Item[];
  };
  for (const u of sample.slice(0, 20)) {
    const items = await feedOf(edge.url, u);
    // A post the viewer has not liked yet (liking again would change nothing).
    const { rows: likedRows } = await pool.query<{ id: string }>(
      "SELECT post_id::text AS id FROM likes WHERE user_id = $1 AND post_id = ANY($2::uuid[]) AND deleted_at IS NULL",
      [u, items.map((i) => i.post_id)],
    );
    const liked = new Set(likedRows.map((r) => r.id));
    const target = items.find((i) => i.explain && !liked.has(i.post_id));
    if (!target) continue;
    const before = target.explain?.engagement ?? 0;
    const res = await createClient({ baseUrl: edge.url, headers: auth(u) }).send("like", {
      params: { id: target.post_id },
    });
    if (!res.ok) throw new Error(`like answered ${res.status}: ${res.error.message}`);
    const s = performance.now();
    for (;;) {
      const now = (await feedOf(edge.url, u)).find((i) => i.post_id === target.post_id);
      if ((now?.explain?.engagement ?? 0) > before) break;
      if (performance.now() - s > 30_000) throw new Error("like not reflected in the feed after 30 s");
      await sleep(25);
    }
    fresh.push(performance.now() - s);
    // Baseline: the same kind of like written to PostgreSQL, then the baseline feed.
    const bItems = await feedOf(baseline.url, u);
    const bTarget = bItems.find((i) => i.post_id !== target.post_id);
    if (!bTarget) continue;
    const { rowCount } = await pool.query(
      "INSERT INTO likes (user_id, post_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
      [u, bTarget.post_id],
    );
    if (!rowCount) continue;
    const s2 = performance.now();
    for (;;) {
      const now = (await feedOf(baseline.url, u)).find((i) => i.post_id === bTarget.post_id);
      if ((now?.score ?? 0) > bTarget.score) break;
      if (performance.now() - s2 > 30_000) throw new Error("baseline like not reflected after 30 s");
      await sleep(5);
    }
    freshBase.push(performance.now() - s2);
  }
  fresh.sort((a, b) => a - b);
  freshBase.sort((a, b) => a - b);
  figures.push(
    latency("like → liker's feed p50 (ms)", round(percentile(fresh, 0.5)), round(percentile(freshBase, 0.5))),
    latency("like → liker's feed p95 (ms)", round(percentile(fresh, 0.95)), round(percentile(freshBase, 0.95)), 2000),
  );
  details.like_to_feed = { samples: fresh.length, baseline_samples: freshBase.length };
}
