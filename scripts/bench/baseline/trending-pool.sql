-- The trending pool, a materialized view refreshed (CONCURRENTLY) every 60 s by a timer the
-- service owns: what TRENDING_CANDIDATES_SQL is on ClickHouse. Live posts of the last 24 h with
-- any engagement (likes and comments but the author's own, counted shares), the 1000 most
-- engaged (likes + 2·comments + 3·shares, then newest), with their counters and whether the
-- author is deleted. After each refresh the service ranks it with rankHotPosts (the product's
-- hot list: formula without a viewer, diversity pass, at most 200) and keeps the ids: the
-- feed's F2 source.
--
-- The service comments the view with its definition version (BASELINE_TRENDING_VIEW_VERSION).
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_trending_pool AS
WITH recent AS (
  SELECT id, author_id, text, created_at FROM posts
  WHERE deleted_at IS NULL AND created_at >= now() - interval '24 hours'
),
lk AS (
  SELECT l.post_id, count(*) AS n FROM likes l JOIN recent r ON r.id = l.post_id
  WHERE l.deleted_at IS NULL AND l.user_id <> l.post_author_id GROUP BY l.post_id
),
cm AS (
  SELECT c.post_id, count(*) AS n FROM comments c JOIN recent r ON r.id = c.post_id
  WHERE c.deleted_at IS NULL AND c.author_id <> c.post_author_id GROUP BY c.post_id
),
m AS (
  SELECT r.id AS post_id, r.author_id, r.text, r.created_at,
         coalesce(lk.n, 0)::int AS likes, coalesce(cm.n, 0)::int AS comments,
         coalesce(pc.shares, 0)::int AS shares, coalesce(pc.impressions, 0)::int AS impressions,
         (u.id IS NULL OR u.deleted_at IS NOT NULL) AS author_deleted
  FROM recent r
  LEFT JOIN lk ON lk.post_id = r.id
  LEFT JOIN cm ON cm.post_id = r.id
  LEFT JOIN bench_post_counters pc ON pc.post_id = r.id
  LEFT JOIN users u ON u.id = r.author_id
)
SELECT * FROM m
WHERE likes + 2 * comments + 3 * shares > 0
ORDER BY likes + 2 * comments + 3 * shares DESC, created_at DESC, post_id
LIMIT 1000;

CREATE UNIQUE INDEX IF NOT EXISTS bench_trending_pool_post_idx ON bench_trending_pool (post_id);
