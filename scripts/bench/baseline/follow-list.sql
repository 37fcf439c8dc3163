-- GET /api/v1/users/{id}/followers and /following: one page of the user's live follows, newest
-- follow first by (follows.created_at, the listed user's id), after the cursor's position,
-- leaving out deleted users and users blocked either way by the viewer; each listed user's card
-- and the viewer's relation (follows them, followed by them). `owner` is null (404) when the user
-- is deleted, unknown or blocked either way. One text for both lists: {{owner}} is the column of
-- the user whose list it is (followee_id for followers), {{listed}} the other. $1 viewer uuid,
-- $2 user uuid, $3 cursor created_at in epoch µs (null: the first page), $4 cursor user uuid,
-- $5 rows to read (the page size + 1). Indexes: bench_follows_followee_keyset_idx /
-- bench_follows_follower_keyset_idx (the keyset as an index condition), users PK, follows PK (the
-- viewer's relation), blocks PK and blocks_blocked_idx.
WITH t AS (
  SELECT u.id FROM users u
  WHERE u.id = $2::uuid AND u.deleted_at IS NULL
    AND (u.id = $1::uuid OR (
      NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1::uuid AND b.blocked_id = u.id AND b.deleted_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1::uuid AND b.deleted_at IS NULL)))
),
blocked AS MATERIALIZED (
  SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = $1::uuid AND deleted_at IS NULL
  UNION
  SELECT blocker_id FROM blocks WHERE blocked_id = $1::uuid AND deleted_at IS NULL
),
page AS (
  SELECT f.{{listed}} AS id, f.created_at, u.handle, u.display_name
  FROM follows f
  JOIN users u ON u.id = f.{{listed}} AND u.deleted_at IS NULL
  WHERE f.{{owner}} = (SELECT id FROM t) AND f.deleted_at IS NULL
    AND (f.created_at, f.{{listed}}) < (
      CASE WHEN $3::bigint IS NULL THEN 'infinity'::timestamptz
           ELSE to_timestamp(0) + $3::bigint * interval '1 microsecond' END,
      coalesce($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid))
    AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = f.{{listed}})
  ORDER BY f.created_at DESC, f.{{listed}} DESC
  LIMIT $5::int
)
SELECT t.id::text AS owner, page.id::text AS id, page.handle, page.display_name,
       (extract(epoch FROM page.created_at) * 1000000)::bigint::text AS at_us,
       EXISTS (SELECT 1 FROM follows v
               WHERE v.follower_id = $1::uuid AND v.followee_id = page.id AND v.deleted_at IS NULL) AS following,
       EXISTS (SELECT 1 FROM follows v
               WHERE v.follower_id = page.id AND v.followee_id = $1::uuid AND v.deleted_at IS NULL) AS followed_by
FROM t LEFT JOIN page ON true
ORDER BY page.created_at DESC, page.id DESC
