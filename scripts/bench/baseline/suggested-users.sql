-- Friends of friends: users followed by the viewer's (live) followees, ranked by how many of
-- them follow each; never the viewer, anyone the viewer already follows, anyone blocked either
-- way or a deleted user. $1 viewer uuid, $2 limit. bench_follows_live_idx serves both hops.
WITH
  mine AS (
    SELECT followee_id FROM follows WHERE follower_id = $1::uuid AND deleted_at IS NULL
  ),
  fof AS (
    SELECT f.followee_id AS user_id, count(*) AS n
    FROM mine m
    JOIN follows f ON f.follower_id = m.followee_id
    WHERE f.deleted_at IS NULL
    GROUP BY f.followee_id
  )
SELECT fof.user_id::text AS user_id, fof.n::float8 AS score, 'followed_by_your_follows' AS reason
FROM fof
JOIN users u ON u.id = fof.user_id AND u.deleted_at IS NULL
WHERE fof.user_id <> $1::uuid
  AND NOT EXISTS (SELECT 1 FROM mine WHERE mine.followee_id = fof.user_id)
  AND NOT EXISTS (
    SELECT 1 FROM blocks b
    WHERE b.deleted_at IS NULL
      AND ((b.blocker_id = $1::uuid AND b.blocked_id = fof.user_id)
        OR (b.blocker_id = fof.user_id AND b.blocked_id = $1::uuid))
  )
ORDER BY fof.n DESC, fof.user_id
LIMIT $2::int
