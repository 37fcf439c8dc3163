-- The feed's candidates and features in ONE PostgreSQL query: what FEED_CANDIDATES_SQL
-- (edge/core/sql/queries.ts) is on ClickHouse, with the same sources, limits and windows
-- (FEED_QUERY_LIMITS; edge/core/serving/read.ts):
--   F1 follow    the newest $3 live posts of the viewer's live followees, last 72 h
--   F2 trending  the hot list ($7, ids ranked by the service after each refresh of
--                bench_trending_pool), plus for a viewer without followees the newest $4 posts
--                of the 20 most followed authors (bench_popular_authors), last 72 h
--   F3 affinity  the newest $5 posts of the viewer's top $6 affinity authors, last 7 days
-- Every candidate carries its live like and comment counts but the author's own (index-only
-- counts on the OLTP tables), its counted shares and impressions (bench_post_counters, kept by
-- the event intake), the viewer's affinity with its author over 90 days (likes, comments,
-- counted shares and clicks, never on the viewer's own posts, by UTC day as user_author_90d),
-- and the flags the rules need (author blocked either way, author deleted, seen by the viewer in
-- the last 7 days). Merge, filters, scoring, diversity, the lift of a followee's post younger
-- than 2 h into the first 50 and the 500 cap then run in the product's pure code (rankFeed), as
-- on the edge.
--
-- $1 viewer uuid, $2 now (timestamptz), $3 f1_limit, $4 f2_limit, $5 f3_limit,
-- $6 affinity_authors, $7 trending post ids (uuid[]).
-- Indexes: bench_follows_live_idx (followees), posts_author_created_idx (F1/F2 cold/F3 per
-- author), posts PK (trending), bench_likes_post_others_idx and bench_comments_post_others_idx
-- (counts), bench_post_counters PK, bench_likes_viewer_author_idx,
-- bench_comments_viewer_author_idx and bench_user_author_days PK (affinity), blocks PK and
-- blocks_blocked_idx, bench_seen PK.
WITH
  followees AS MATERIALIZED (
    SELECT followee_id AS author_id FROM follows
    WHERE follower_id = $1::uuid AND deleted_at IS NULL
  ),
  blocked AS MATERIALIZED (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
  ),
  since AS MATERIALIZED (
    SELECT (($2::timestamptz AT TIME ZONE 'UTC')::date - 90) AS day,
           ((($2::timestamptz AT TIME ZONE 'UTC')::date - 90)::timestamp AT TIME ZONE 'UTC') AS at
  ),
  affinity AS MATERIALIZED (
    SELECT i.author_id, sum(i.n)::bigint AS n
    FROM (
      SELECT l.post_author_id AS author_id, count(*) AS n FROM likes l
      WHERE l.user_id = $1::uuid AND l.deleted_at IS NULL AND l.post_author_id <> $1::uuid
        AND l.created_at >= (SELECT at FROM since)
      GROUP BY 1
      UNION ALL
      SELECT c.post_author_id, count(*) FROM comments c
      WHERE c.author_id = $1::uuid AND c.deleted_at IS NULL AND c.post_author_id <> $1::uuid
        AND c.created_at >= (SELECT at FROM since)
      GROUP BY 1
      UNION ALL
      SELECT d.author_id, sum(d.n) FROM bench_user_author_days d
      WHERE d.user_id = $1::uuid AND d.day >= (SELECT day FROM since)
      GROUP BY 1
    ) i
    GROUP BY i.author_id
    HAVING sum(i.n) > 0
  ),
  candidates AS MATERIALIZED (
    (SELECT p.id, 1 AS src FROM posts p
     WHERE p.author_id IN (SELECT author_id FROM followees)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '72 hours'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $3::int)
    UNION ALL
    SELECT p.id, 2 FROM posts p WHERE p.id = ANY($7::uuid[]) AND p.deleted_at IS NULL
    UNION ALL
    (SELECT p.id, 2 FROM posts p
     WHERE NOT EXISTS (SELECT 1 FROM followees)
       AND p.author_id IN (SELECT author_id FROM bench_popular_authors)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '72 hours'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $4::int)
    UNION ALL
    (SELECT p.id, 3 FROM posts p
     WHERE p.author_id IN (SELECT author_id FROM affinity ORDER BY n DESC, author_id LIMIT $6::int)
       AND p.deleted_at IS NULL AND p.created_at >= $2::timestamptz - interval '7 days'
     ORDER BY p.created_at DESC, p.id DESC LIMIT $5::int)
  ),
  features AS MATERIALIZED (
    SELECT
      p.id, p.author_id, p.text,
      floor(extract(epoch FROM p.created_at) * 1000)::float8 AS created_at_ms,
      (SELECT count(*) FROM likes l
       WHERE l.post_id = p.id AND l.deleted_at IS NULL AND l.user_id <> l.post_author_id)::int AS likes,
      (SELECT count(*) FROM comments cm
       WHERE cm.post_id = p.id AND cm.deleted_at IS NULL AND cm.author_id <> cm.post_author_id)::int AS comments,
      coalesce(pc.shares, 0)::int AS shares,
      coalesce(pc.impressions, 0)::int AS impressions,
      coalesce(a.n, 0)::int AS affinity,
      EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = p.author_id) AS author_blocked,
      (u.id IS NULL OR u.deleted_at IS NOT NULL) AS author_deleted,
      EXISTS (
        SELECT 1 FROM bench_seen s
        WHERE s.user_id = $1::uuid AND s.post_id = p.id AND s.seen_at >= $2::timestamptz - interval '7 days'
      ) AS seen
    FROM (SELECT DISTINCT id FROM candidates) ids
    JOIN posts p ON p.id = ids.id
    LEFT JOIN users u ON u.id = p.author_id
    LEFT JOIN bench_post_counters pc ON pc.post_id = p.id
    LEFT JOIN affinity a ON a.author_id = p.author_id
  )
SELECT c.src, f.id::text AS post_id, f.author_id::text AS author_id, f.text, f.created_at_ms,
       f.likes, f.comments, f.shares, f.impressions, f.affinity, f.author_blocked, f.author_deleted, f.seen
FROM candidates c
JOIN features f ON f.id = c.id
