-- Posts ready to render for a viewer (a post read, an author's page, a feed page): body, the
-- author's card, plain totals (every live like and comment, the author's own included, as the
-- edge's {post}:d), counted shares (bench_post_counters, kept by the intake), and the viewer's
-- like and follow of the author. Only posts the viewer may see: live, by a live author not
-- blocked either way. Any order (the caller keeps its own). $1 viewer uuid, $2 post uuids.
-- Indexes: posts PK, users PK, likes_post_idx and comments_post_created_idx (index-only counts),
-- bench_post_counters PK, likes PK and follows PK (the viewer's state), blocks PK and
-- blocks_blocked_idx.
WITH blocked AS MATERIALIZED (
  SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
  UNION
  SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
)
SELECT p.id::text AS post_id, p.author_id::text AS author_id, u.handle, u.display_name, p.text,
       floor(extract(epoch FROM p.created_at) * 1000)::float8 AS created_at_ms,
       (SELECT count(*) FROM likes l WHERE l.post_id = p.id AND l.deleted_at IS NULL)::int AS likes,
       (SELECT count(*) FROM comments c WHERE c.post_id = p.id AND c.deleted_at IS NULL)::int AS comments,
       coalesce(pc.shares, 0)::int AS shares,
       EXISTS (SELECT 1 FROM likes l
               WHERE l.user_id = $1::uuid AND l.post_id = p.id AND l.deleted_at IS NULL) AS liked,
       (p.author_id <> $1::uuid AND EXISTS (
         SELECT 1 FROM follows f
         WHERE f.follower_id = $1::uuid AND f.followee_id = p.author_id AND f.deleted_at IS NULL)) AS following_author
FROM posts p
JOIN users u ON u.id = p.author_id AND u.deleted_at IS NULL
LEFT JOIN bench_post_counters pc ON pc.post_id = p.id
WHERE p.id = ANY($2::uuid[]) AND p.deleted_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = p.author_id)
