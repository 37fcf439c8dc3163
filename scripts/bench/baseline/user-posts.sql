-- GET /api/v1/users/{id}/posts: one page of the author's live posts, newest first by
-- (created_at, id), after the cursor's position; `author` is null (404) when the author is
-- deleted, unknown or blocked either way (one's own always shows). The page's posts are then
-- hydrated by posts-hydrate.sql. $1 viewer uuid, $2 author uuid, $3 cursor created_at in epoch
-- µs (null: the first page), $4 cursor post uuid, $5 rows to read (the page size + 1: whether
-- more follow). Index: bench_posts_author_keyset_idx (author, created_at, id), the keyset as an
-- index condition.
WITH t AS (
  SELECT u.id FROM users u
  WHERE u.id = $2::uuid AND u.deleted_at IS NULL
    AND (u.id = $1::uuid OR (
      NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1::uuid AND b.blocked_id = u.id AND b.deleted_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1::uuid AND b.deleted_at IS NULL)))
),
page AS (
  SELECT p.id, p.created_at FROM posts p
  WHERE p.author_id = (SELECT id FROM t) AND p.deleted_at IS NULL
    AND (p.created_at, p.id) < (
      CASE WHEN $3::bigint IS NULL THEN 'infinity'::timestamptz
           ELSE to_timestamp(0) + $3::bigint * interval '1 microsecond' END,
      coalesce($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
  ORDER BY p.created_at DESC, p.id DESC
  LIMIT $5::int
)
SELECT t.id::text AS author, page.id::text AS post_id,
       (extract(epoch FROM page.created_at) * 1000000)::bigint::text AS at_us
FROM t LEFT JOIN page ON true
ORDER BY page.created_at DESC, page.id DESC
