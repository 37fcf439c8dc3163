-- GET /api/v1/posts/{id}/comments: one page of the post's live comments, oldest first by
-- (created_at, id) (or newest first), after the cursor's position, leaving out comments of
-- deleted users and of users blocked either way by the viewer, with each commenter's card.
-- `post` is null (404) when the post is deleted or unknown, or its author deleted or blocked
-- either way. One text for both orders: {{cmp}} is > and {{dir}} ASC for oldest first, < and
-- DESC for newest. $1 viewer uuid, $2 post uuid, $3 cursor created_at in epoch µs (null: the
-- first page), $4 cursor comment uuid, $5 rows to read (the page size + 1). Indexes: posts PK,
-- users PK, blocks PK and blocks_blocked_idx, bench_comments_post_keyset_idx (the keyset as an
-- index condition).
WITH blocked AS MATERIALIZED (
  SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
  UNION
  SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
),
t AS (
  SELECT p.id FROM posts p
  JOIN users a ON a.id = p.author_id AND a.deleted_at IS NULL
  WHERE p.id = $2::uuid AND p.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = p.author_id)
),
page AS (
  SELECT c.id, c.author_id, c.text, c.created_at, u.handle, u.display_name
  FROM comments c
  JOIN users u ON u.id = c.author_id AND u.deleted_at IS NULL
  WHERE c.post_id = (SELECT id FROM t) AND c.deleted_at IS NULL
    AND (c.created_at, c.id) {{cmp}} (
      CASE WHEN $3::bigint IS NOT NULL THEN to_timestamp(0) + $3::bigint * interval '1 microsecond'
           WHEN '{{dir}}' = 'ASC' THEN '-infinity'::timestamptz ELSE 'infinity'::timestamptz END,
      coalesce($4::uuid, CASE WHEN '{{dir}}' = 'ASC' THEN '00000000-0000-0000-0000-000000000000'::uuid
                              ELSE 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid END))
    AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = c.author_id)
  ORDER BY c.created_at {{dir}}, c.id {{dir}}
  LIMIT $5::int
)
SELECT t.id::text AS post, page.id::text AS comment_id, page.author_id::text AS author_id,
       page.handle, page.display_name, page.text,
       floor(extract(epoch FROM page.created_at) * 1000)::float8 AS created_at_ms,
       (extract(epoch FROM page.created_at) * 1000000)::bigint::text AS at_us
FROM t LEFT JOIN page ON true
ORDER BY page.created_at {{dir}}, page.id {{dir}}
