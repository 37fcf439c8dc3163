-- Aggregates kept by materialized views. Each signal is counted once, from its source of
-- truth: likes and comments from their CDC tables (summing `_sign`, so an unlike or a deleted
-- comment lowers the count), impressions, views, clicks, shares and dwell from events_raw.
-- SummingMergeTree rows for one key may be unmerged: always read with sum(...) GROUP BY.

-- Per post per hour: the engagement signal and trending.
CREATE TABLE IF NOT EXISTS post_metrics_1h
(
    post_id     UUID,
    hour        DateTime('UTC'),
    impressions Int64,
    views       Int64,
    clicks      Int64,
    shares      Int64,
    dwell_ms    Int64,
    likes       Int64,
    comments    Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (post_id, hour)
TTL hour + INTERVAL 90 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_events_mv TO post_metrics_1h AS
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
FROM events_raw
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_likes_mv TO post_metrics_1h AS
SELECT
    post_id,
    toStartOfHour(_source_ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(sum(_sign)) AS likes,
    toInt64(0) AS comments
FROM likes_cdc
WHERE _sign != 0
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_comments_mv TO post_metrics_1h AS
SELECT
    post_id,
    toStartOfHour(_source_ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(0) AS likes,
    toInt64(sum(_sign)) AS comments
FROM comments_cdc
WHERE _sign != 0
GROUP BY post_id, hour;

-- A user's interactions with each author per day over 90 days (likes, comments, shares,
-- clicks): the affinity signal. Ordered by user for the per-viewer lookup.
CREATE TABLE IF NOT EXISTS user_author_90d
(
    user_id      UUID,
    author_id    UUID,
    day          Date,
    interactions Int64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (user_id, author_id, day)
TTL day + INTERVAL 90 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_likes_mv TO user_author_90d AS
SELECT user_id, post_author_id AS author_id, toDate(_source_ts) AS day, toInt64(sum(_sign)) AS interactions
FROM likes_cdc
WHERE _sign != 0 AND user_id != post_author_id
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_comments_mv TO user_author_90d AS
SELECT author_id AS user_id, post_author_id AS author_id, toDate(_source_ts) AS day, toInt64(sum(_sign)) AS interactions
FROM comments_cdc
WHERE _sign != 0 AND author_id != post_author_id
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_events_mv TO user_author_90d AS
SELECT user_id, author_id, toDate(received_at) AS day, toInt64(count()) AS interactions
FROM events_raw
WHERE type IN ('click', 'share') AND author_id != toUUID('00000000-0000-0000-0000-000000000000') AND user_id != author_id
GROUP BY user_id, author_id, day;

-- Live follower counts per author: popular authors for cold start and suggestions.
CREATE TABLE IF NOT EXISTS author_stats
(
    author_id UUID,
    followers Int64
)
ENGINE = SummingMergeTree
ORDER BY author_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS author_stats_follows_mv TO author_stats AS
SELECT followee_id AS author_id, toInt64(sum(_sign)) AS followers
FROM follows_cdc
WHERE _sign != 0
GROUP BY author_id;

-- Trending snapshot written by the hot-posts generator (one `generation` per run): the
-- feed's F2 source reads the newest generation instead of aggregating 24 h per request.
CREATE TABLE IF NOT EXISTS trending_posts
(
    generation  UInt64,
    rank        UInt16,
    post_id     UUID,
    author_id   UUID,
    score       Float64,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (generation, rank)
TTL toDateTime(computed_at) + INTERVAL 1 HOUR;

-- The latest state of each mirrored table (hard-deleted rows gone, soft-deleted rows kept with
-- deleted_at set): what the consistency check compares with PostgreSQL.
CREATE VIEW IF NOT EXISTS users_current AS
SELECT id, handle, display_name, bio, created_at, updated_at, deleted_at, _version FROM users_cdc FINAL;

CREATE VIEW IF NOT EXISTS posts_current AS
SELECT id, author_id, text, created_at, updated_at, deleted_at, _version FROM posts_cdc FINAL;

CREATE VIEW IF NOT EXISTS follows_current AS
SELECT follower_id, followee_id, created_at, updated_at, deleted_at, _version FROM follows_cdc FINAL;

CREATE VIEW IF NOT EXISTS likes_current AS
SELECT user_id, post_id, post_author_id, created_at, updated_at, deleted_at, _version FROM likes_cdc FINAL;

CREATE VIEW IF NOT EXISTS comments_current AS
SELECT id, post_id, author_id, post_author_id, text, created_at, updated_at, deleted_at, _version FROM comments_cdc FINAL;

CREATE VIEW IF NOT EXISTS blocks_current AS
SELECT blocker_id, blocked_id, created_at, updated_at, deleted_at, _version FROM blocks_cdc FINAL;
