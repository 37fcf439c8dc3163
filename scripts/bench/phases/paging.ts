/** Bench phase 8: paging through whole snapshots while the pager's followees post and the generators run. */

import { snapshotKey, snapshotPointerKey } from "#core/keys.ts";
import { decodeSnapshotItem } from "#core/serving/snapshot.ts";
import { createClient } from "../../../edge/client/index.ts";
import type { Bench } from "../context.ts";
import { log, sleep } from "../context.ts";

export async function pagingPhase(b: Bench): Promise<void> {
  const { edge, redis, pool, sample, auth, tokenOf, figures, details } = b;
  log("paging at limit=20 through whole snapshots while followees post and the generators run");
  const as = (user: string) => createClient({ baseUrl: edge.url, headers: auth(user) });
  type Page = { items: { post_id: string }[]; next_cursor: string | null };
  const page = async (user: string, limit: number, cursor?: string): Promise<Page> => {
    const r = await as(user).send("getFeed", { query: { limit, cursor } });
    if (!r.ok) throw new Error(`feed answered ${r.status}: ${r.error.message}`);
    return r.data;
  };
  let repeats = 0;
  let skips = 0;
  let pagesRead = 0;
  const PAGING_SESSIONS = 10;
  for (const u of sample.slice(60, 60 + PAGING_SESSIONS)) {
    let body = await page(u, 20);
    await sleep(50); // the snapshot is saved after the answer
    const pointer = JSON.parse((await redis.get(snapshotPointerKey(u))) ?? "{}") as { rankingId?: string };
    const want = pointer.rankingId
      ? (await redis.lrange(snapshotKey(u, pointer.rankingId), 1, -1)).map(
          (i) => decodeSnapshotItem(i)?.postId ?? "(unreadable item)",
        )
      : [];
    const served = body.items.map((i) => i.post_id);
    // Someone the pager follows writes while the pager pages (any user when it follows no one).
    const { rows } = await pool.query<{ id: string }>(
      "SELECT followee_id::text AS id FROM follows WHERE follower_id = $1 AND deleted_at IS NULL ORDER BY followee_id LIMIT 1",
      [u],
    );
    const author = rows[0]?.id ?? (sample[0] as string);
    await tokenOf(author);
    let k = 0;
    while (body.next_cursor) {
      if (k++ % 3 === 0) {
        await as(author).send("createPost", { body: { text: "written while someone pages" } });
      }
      await page(u, 3); // a second device
      body = await page(u, 20, body.next_cursor);
      served.push(...body.items.map((i) => i.post_id));
      pagesRead++;
    }
    repeats += served.length - new Set(served).size;
    const servedSet = new Set(served);
    skips += want.filter((id) => !servedSet.has(id)).length;
  }
  details.paging = { sessions: PAGING_SESSIONS, pages: pagesRead, repeats, skips };
  figures.push(
    {
      name: `paging: repeated items (${PAGING_SESSIONS} whole sessions, ${pagesRead} pages)`,
      ours: repeats,
      baseline: null,
      ratio: null,
      target: "0",
      met: repeats === 0,
    },
    {
      name: `paging: skipped items (${PAGING_SESSIONS} whole sessions)`,
      ours: skips,
      baseline: null,
      ratio: null,
      target: "0",
      met: skips === 0,
    },
  );
}
