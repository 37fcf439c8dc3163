-- Materialized and plain views of the single-node DDL (their state after 0001-0006), for the
-- tables of 0001_storage.sql. Run after it, the same way.
--
-- A materialized view fires on the replica that receives an insert into its source (the
-- Distributed table forwards each row to one replica of its shard), and what the view writes
-- replicates like any insert. So each view reads a `_local` table and writes the `_local`
-- table of the same shard: every shard keeps the counts of its own rows, as one node keeps them
-- for all rows, and the Distributed tables add the shards up at read time. The SELECTs are the
-- single-node ones with `_local` names.
--
-- Plain views read the Distributed tables, so they return what the single-node views return;
-- FINAL is applied on each shard, which is correct because every version of a row sits on one
-- shard (see 0001_storage.sql). experiment_interactions joins on the user and runs on each
-- shard by itself (a view there, a Distributed table over it).

CREATE MATERIALIZED VIEW IF NOT EXISTS posts_by_id_mv ON CLUSTER '{cluster}' TO posts_by_id_local AS
SELECT id, author_id, text, created_at, deleted_at, _version, _is_deleted
FROM posts_cdc_local;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_events_mv ON CLUSTER '{cluster}' TO post_metrics_1h_local AS
SELECT
    post_id,
    toStartOfHour(received_at) AS hour,
    toInt64(countIf(type = 'impression')) AS impressions,
    toInt64(countIf(type = 'view')) AS views,
    toInt64(countIf(type = 'click')) AS clicks,
    toInt64(countIf(type = 'share')) AS shares,
    toInt64(sumIf(dwell_ms, type = 'dwell')) AS dwell_ms,
    toInt64(0) AS likes,
    toInt64(0) AS comments
FROM events_raw_local
WHERE counted = 1
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_likes_mv ON CLUSTER '{cluster}' TO post_metrics_1h_local AS
SELECT
    pid AS post_id,
    toStartOfHour(ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(sum(sign)) AS likes,
    toInt64(0) AS comments
FROM (
    SELECT post_id AS pid, _source_ts AS ts, _sign AS sign
    FROM likes_cdc_local
    WHERE _sign != 0 AND user_id != post_author_id
)
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_comments_mv ON CLUSTER '{cluster}' TO post_metrics_1h_local AS
SELECT
    pid AS post_id,
    toStartOfHour(ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(0) AS likes,
    toInt64(sum(sign)) AS comments
FROM (
    SELECT post_id AS pid, _source_ts AS ts, _sign AS sign
    FROM comments_cdc_local
    WHERE _sign != 0 AND author_id != post_author_id
)
GROUP BY post_id, hour;

-- Chained: fires on the rows the three views above insert into post_metrics_1h_local.
CREATE MATERIALIZED VIEW IF NOT EXISTS post_totals_mv ON CLUSTER '{cluster}' TO post_totals_local AS
SELECT post_id, impressions, views, clicks, shares, dwell_ms, likes, comments
FROM post_metrics_1h_local;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_likes_mv ON CLUSTER '{cluster}' TO user_author_90d_local AS
SELECT liker AS user_id, post_author AS author_id, toDate(ts) AS day, toInt64(sum(sign)) AS interactions
FROM (
    SELECT user_id AS liker, post_author_id AS post_author, _source_ts AS ts, _sign AS sign
    FROM likes_cdc_local
    WHERE _sign != 0 AND user_id != post_author_id
)
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_comments_mv ON CLUSTER '{cluster}' TO user_author_90d_local AS
SELECT commenter AS user_id, post_author AS author_id, toDate(ts) AS day, toInt64(sum(sign)) AS interactions
FROM (
    SELECT author_id AS commenter, post_author_id AS post_author, _source_ts AS ts, _sign AS sign
    FROM comments_cdc_local
    WHERE _sign != 0 AND author_id != post_author_id
)
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_events_mv ON CLUSTER '{cluster}' TO user_author_90d_local AS
SELECT user_id, author_id, toDate(received_at) AS day, toInt64(count()) AS interactions
FROM events_raw_local
WHERE counted = 1 AND type IN ('click', 'share') AND user_id != author_id
  AND author_id != toUUID('00000000-0000-0000-0000-000000000000')
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS author_stats_follows_mv ON CLUSTER '{cluster}' TO author_stats_local AS
SELECT followee_id AS author_id, toInt64(sum(_sign)) AS followers
FROM follows_cdc_local
WHERE _sign != 0
GROUP BY author_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_counted_keys_mv ON CLUSTER '{cluster}' TO event_counted_keys_local AS
SELECT user_id, post_id, type, if(type = 'impression', toDate(received_at), toDate(0)) AS day,
       min(received_at) AS first_at
FROM events_raw_local
WHERE counted = 1 AND type IN ('impression', 'click', 'share')
GROUP BY user_id, post_id, type, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS experiment_daily_mv ON CLUSTER '{cluster}' TO experiment_daily_local AS
SELECT
    experiment,
    variant,
    toDate(received_at) AS day,
    uniqState(user_id) AS users,
    toInt64(countIf(type = 'impression' AND counted = 1)) AS impressions,
    toInt64(countIf(type = 'view' AND counted = 1)) AS views,
    toInt64(countIf(type = 'click' AND counted = 1)) AS clicks,
    toInt64(countIf(type = 'share' AND counted = 1)) AS shares
FROM events_raw_local
WHERE experiment != '' AND variant != ''
GROUP BY experiment, variant, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS experiment_exposures_mv ON CLUSTER '{cluster}' TO experiment_exposures_local AS
SELECT experiment, user_id, post_id, variant, min(received_at) AS first_at
FROM events_raw_local
WHERE type = 'impression' AND experiment != '' AND variant != ''
GROUP BY experiment, user_id, post_id, variant;

-- The latest state of each mirrored table, read across the shards.
CREATE VIEW IF NOT EXISTS users_current ON CLUSTER '{cluster}' AS
SELECT id, handle, display_name, bio, created_at, updated_at, deleted_at, _version FROM users_cdc FINAL;

CREATE VIEW IF NOT EXISTS posts_current ON CLUSTER '{cluster}' AS
SELECT id, author_id, text, created_at, updated_at, deleted_at, _version FROM posts_cdc FINAL;

CREATE VIEW IF NOT EXISTS follows_current ON CLUSTER '{cluster}' AS
SELECT follower_id, followee_id, created_at, updated_at, deleted_at, _version FROM follows_cdc FINAL;

CREATE VIEW IF NOT EXISTS likes_current ON CLUSTER '{cluster}' AS
SELECT user_id, post_id, post_author_id, created_at, updated_at, deleted_at, _version FROM likes_cdc FINAL;

CREATE VIEW IF NOT EXISTS comments_current ON CLUSTER '{cluster}' AS
SELECT id, post_id, author_id, post_author_id, text, created_at, updated_at, deleted_at, _version FROM comments_cdc FINAL;

CREATE VIEW IF NOT EXISTS blocks_current ON CLUSTER '{cluster}' AS
SELECT blocker_id, blocked_id, created_at, updated_at, deleted_at, _version FROM blocks_cdc FINAL;

-- Likes and comments attributed to a variant, on each shard: a user's exposures (from the
-- user's events), likes (by the liker) and comments (by the commenter) all sit on the user's
-- shard, so the shard's own rows are the whole join for its users.
CREATE VIEW IF NOT EXISTS experiment_interactions_local ON CLUSTER '{cluster}' AS
WITH exposure AS
(
    SELECT experiment, user_id, post_id, argMin(variant, f) AS variant, min(f) AS first_at
    FROM
    (
        SELECT experiment, user_id, post_id, variant, min(first_at) AS f
        FROM experiment_exposures_local
        GROUP BY experiment, user_id, post_id, variant
    )
    GROUP BY experiment, user_id, post_id
)
SELECT x.experiment AS experiment, x.variant AS variant, toDate(l.created_at) AS day, l.user_id AS user_id, 'like' AS kind
FROM (SELECT user_id, post_id, created_at, deleted_at FROM likes_cdc_local FINAL) AS l
INNER JOIN exposure AS x ON l.user_id = x.user_id AND l.post_id = x.post_id
WHERE l.deleted_at IS NULL AND l.created_at >= x.first_at - INTERVAL 10 MINUTE
UNION ALL
SELECT x.experiment AS experiment, x.variant AS variant, toDate(c.created_at) AS day, c.author_id AS user_id, 'comment' AS kind
FROM (SELECT author_id, post_id, created_at, deleted_at FROM comments_cdc_local FINAL) AS c
INNER JOIN exposure AS x ON c.author_id = x.user_id AND c.post_id = x.post_id
WHERE c.deleted_at IS NULL AND c.created_at >= x.first_at - INTERVAL 10 MINUTE;

CREATE TABLE IF NOT EXISTS experiment_interactions ON CLUSTER '{cluster}' AS experiment_interactions_local
ENGINE = Distributed('{cluster}', currentDatabase(), experiment_interactions_local);

CREATE VIEW IF NOT EXISTS experiment_variant_states ON CLUSTER '{cluster}' AS
SELECT experiment, variant, day, uniqMergeState(users) AS users,
       toInt64(sum(impressions)) AS impressions, toInt64(sum(views)) AS views,
       toInt64(sum(clicks)) AS clicks, toInt64(sum(shares)) AS shares,
       toInt64(0) AS likes, toInt64(0) AS comments
FROM experiment_daily
GROUP BY experiment, variant, day
UNION ALL
SELECT experiment, variant, day, uniqState(user_id) AS users,
       toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares,
       toInt64(countIf(kind = 'like')) AS likes, toInt64(countIf(kind = 'comment')) AS comments
FROM experiment_interactions
GROUP BY experiment, variant, day;

CREATE VIEW IF NOT EXISTS experiment_variant_daily ON CLUSTER '{cluster}' AS
SELECT experiment, variant, day,
       uniqMerge(users) AS users,
       sum(impressions) AS impressions, sum(views) AS views, sum(clicks) AS clicks, sum(shares) AS shares,
       sum(likes) AS likes, sum(comments) AS comments,
       if(impressions > 0, clicks / impressions, 0) AS ctr,
       if(impressions > 0, likes / impressions, 0) AS like_rate
FROM experiment_variant_states
GROUP BY experiment, variant, day;

CREATE VIEW IF NOT EXISTS experiment_variant_totals ON CLUSTER '{cluster}' AS
SELECT experiment, variant,
       uniqMerge(users) AS users,
       sum(impressions) AS impressions, sum(views) AS views, sum(clicks) AS clicks, sum(shares) AS shares,
       sum(likes) AS likes, sum(comments) AS comments,
       if(impressions > 0, clicks / impressions, 0) AS ctr,
       if(impressions > 0, likes / impressions, 0) AS like_rate,
       min(day) AS first_day, max(day) AS last_day
FROM experiment_variant_states
GROUP BY experiment, variant;
