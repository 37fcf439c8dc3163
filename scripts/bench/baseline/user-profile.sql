-- GET /api/v1/users/{id}: the user as the viewer may see them, with the three counts and the
-- viewer's relation, or no row (404) when the user is deleted, unknown, or blocked either way
-- (one's own profile is always visible). Counts are every live follow and live post (as the
-- edge's ZCARDs). $1 viewer uuid, $2 user uuid.
-- Indexes: users PK; blocks PK (both directions are point lookups); bench_follows_followee_keyset_idx
-- (followers), bench_follows_live_idx (following), posts_author_created_idx (posts), follows PK
-- (the viewer's relation): index-only counts.
WITH t AS (
  SELECT u.id, u.handle, u.display_name, u.bio, u.created_at
  FROM users u
  WHERE u.id = $2::uuid AND u.deleted_at IS NULL
    AND (u.id = $1::uuid OR (
      NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1::uuid AND b.blocked_id = u.id AND b.deleted_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = u.id AND b.blocked_id = $1::uuid AND b.deleted_at IS NULL)))
)
SELECT t.id::text AS id, t.handle, t.display_name, t.bio,
       floor(extract(epoch FROM t.created_at) * 1000)::float8 AS created_at_ms,
       (SELECT count(*) FROM follows f WHERE f.followee_id = t.id AND f.deleted_at IS NULL)::int AS followers,
       (SELECT count(*) FROM follows f WHERE f.follower_id = t.id AND f.deleted_at IS NULL)::int AS following,
       (SELECT count(*) FROM posts p WHERE p.author_id = t.id AND p.deleted_at IS NULL)::int AS posts,
       EXISTS (SELECT 1 FROM follows f
               WHERE f.follower_id = $1::uuid AND f.followee_id = t.id AND f.deleted_at IS NULL) AS viewer_follows,
       EXISTS (SELECT 1 FROM follows f
               WHERE f.follower_id = t.id AND f.followee_id = $1::uuid AND f.deleted_at IS NULL) AS follows_viewer
FROM t
