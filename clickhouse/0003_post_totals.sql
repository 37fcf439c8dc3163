-- Engagement per post over its whole life: what the feed's ranking reads for a few hundred
-- random candidate posts per request. post_metrics_1h keeps the hourly detail (trending), but
-- at 8192 rows per granule and several hours per post, looking up ~900 random posts there reads
-- nearly every granule of the table (measured at 10M events: the bulk of a feed miss). Here
-- there is one row per post after merges and 256 rows per granule, so a lookup reads a few
-- hundred small granules.
CREATE TABLE IF NOT EXISTS post_totals
(
    post_id     UUID,
    impressions Int64,
    views       Int64,
    clicks      Int64,
    shares      Int64,
    dwell_ms    Int64,
    likes       Int64,
    comments    Int64
)
ENGINE = SummingMergeTree
ORDER BY post_id
SETTINGS index_granularity = 256;

-- Backfill from the hourly table, once (only while post_totals is still empty). On a live
-- system apply this migration with the sink stopped, like any migration that adds a view:
-- changes inserted between the backfill and the view below would be missed.
INSERT INTO post_totals
SELECT post_id, sum(impressions), sum(views), sum(clicks), sum(shares), sum(dwell_ms), sum(likes), sum(comments)
FROM post_metrics_1h
WHERE (SELECT count() FROM post_totals) = 0
GROUP BY post_id;

-- Every row that reaches post_metrics_1h (from its own three views) also reaches post_totals.
CREATE MATERIALIZED VIEW IF NOT EXISTS post_totals_mv TO post_totals AS
SELECT post_id, impressions, views, clicks, shares, dwell_ms, likes, comments
FROM post_metrics_1h;
