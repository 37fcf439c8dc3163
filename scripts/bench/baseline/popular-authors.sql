-- The 20 most followed authors (live follows), for a viewer without followees (the cold-start
-- part of F2, as author_stats on ClickHouse). Refreshed with the trending pool.
CREATE MATERIALIZED VIEW IF NOT EXISTS bench_popular_authors AS
SELECT followee_id AS author_id, count(*)::bigint AS followers
FROM follows WHERE deleted_at IS NULL
GROUP BY followee_id
ORDER BY count(*) DESC, followee_id
LIMIT 20;

CREATE UNIQUE INDEX IF NOT EXISTS bench_popular_authors_author_idx ON bench_popular_authors (author_id);
