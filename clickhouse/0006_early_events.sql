-- Events that arrive before their post, and the author's own likes and comments.
--
-- An event can reach the sink before its post's CDC change (the two come through different
-- topics; a backlog, or the demo seed writing events straight to Kafka, makes it common). The
-- sink then cannot know the post's author, so it can neither credit the author's affinity nor
-- apply the own-post rule. Such an event is inserted into events_raw at once (an accepted event
-- is never held back) with the zero author and `counted = 0`, so no view counts it yet, and its
-- id is noted in `events_pending`. When the post becomes known the sink settles it: the row is
-- inserted again with its author and its `counted` flag decided by the rule (events_raw
-- replaces by event_id, keeping the last insert), which the views then count once, and the
-- pending row is deleted. Read events_raw with FINAL (or uniqExact(event_id)) for exact counts.
--
-- The author's own likes and comments count toward nothing in ranking (the product rule), as
-- their own shares, clicks and impressions already did: post_metrics_1h (and post_totals from
-- it) now leave them out, as user_author_90d always did. Displayed counts are plain totals and
-- come from the CDC tables.
--
-- Repairs what earlier sinks wrote (events whose post arrived later kept the zero author and
-- counted as if by a stranger): as 0004 did, every row again with its post's author and its
-- counted flag, then every counting aggregate rebuilt from its sources. Apply with the sink
-- stopped, as the origin does. Every step can be run again.

CREATE TABLE IF NOT EXISTS events_pending
(
    event_id    UUID,
    user_id     UUID,
    post_id     UUID,
    type        Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    received_at DateTime64(3, 'UTC'),
    -- 1 while pending; the settling insert writes 2 with _is_deleted = 1.
    _version    UInt64,
    _is_deleted UInt8
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (post_id, event_id)
TTL toDateTime(received_at) + INTERVAL 8 DAY;

DROP VIEW IF EXISTS post_metrics_1h_events_mv;
DROP VIEW IF EXISTS post_metrics_1h_likes_mv;
DROP VIEW IF EXISTS post_metrics_1h_comments_mv;
DROP VIEW IF EXISTS user_author_90d_likes_mv;
DROP VIEW IF EXISTS user_author_90d_comments_mv;
DROP VIEW IF EXISTS user_author_90d_events_mv;
DROP VIEW IF EXISTS event_counted_keys_mv;
DROP VIEW IF EXISTS experiment_daily_mv;

INSERT INTO events_raw (event_id, user_id, post_id, author_id, type, dwell_ms, counted, experiment, variant, client_ts, received_at, _ingested_at)
SELECT event_id, user_id, post_id, author, type, dwell_ms,
       toUInt8(multiIf(
         author = toUUID('00000000-0000-0000-0000-000000000000'), 0,
         user_id = author, 0,
         type IN ('share', 'click'), first_ever = 1,
         type = 'impression', first_of_day = 1,
         1)) AS counted,
       experiment, variant, client_ts, received_at, _ingested_at
FROM (
    SELECT e.event_id, e.user_id, e.post_id,
           if(e.author_id != toUUID('00000000-0000-0000-0000-000000000000'), e.author_id,
              ifNull(p.author_id, e.author_id)) AS author,
           e.type, e.dwell_ms, e.experiment, e.variant, e.client_ts, e.received_at, e._ingested_at,
           row_number() OVER (PARTITION BY e.user_id, e.post_id, e.type
                              ORDER BY e.received_at, e.event_id) AS first_ever,
           row_number() OVER (PARTITION BY e.user_id, e.post_id, e.type, toDate(e.received_at)
                              ORDER BY e.received_at, e.event_id) AS first_of_day
    FROM events_raw AS e FINAL
    LEFT JOIN (SELECT id, author_id FROM posts_by_id FINAL) AS p ON p.id = e.post_id
)
SETTINGS join_use_nulls = 1;

OPTIMIZE TABLE events_raw FINAL;

-- What is still unknown waits for its post.
INSERT INTO events_pending (event_id, user_id, post_id, type, received_at, _version, _is_deleted)
SELECT event_id, user_id, post_id, type, received_at, 1, 0
FROM events_raw FINAL
WHERE author_id = toUUID('00000000-0000-0000-0000-000000000000');

OPTIMIZE TABLE events_pending FINAL;

TRUNCATE TABLE IF EXISTS event_counted_keys;

INSERT INTO event_counted_keys
SELECT user_id, post_id, type, if(type = 'impression', toDate(received_at), toDate(0)) AS day, min(received_at)
FROM events_raw FINAL
WHERE counted = 1 AND type IN ('impression', 'click', 'share')
GROUP BY user_id, post_id, type, day;

TRUNCATE TABLE IF EXISTS post_totals;
TRUNCATE TABLE IF EXISTS post_metrics_1h;
TRUNCATE TABLE IF EXISTS user_author_90d;
TRUNCATE TABLE IF EXISTS experiment_daily;

INSERT INTO post_metrics_1h
SELECT post_id, toStartOfHour(received_at) AS hour,
       toInt64(countIf(type = 'impression')), toInt64(countIf(type = 'view')), toInt64(countIf(type = 'click')),
       toInt64(countIf(type = 'share')), toInt64(sumIf(dwell_ms, type = 'dwell')), toInt64(0), toInt64(0)
FROM events_raw FINAL
WHERE counted = 1
GROUP BY post_id, hour;

INSERT INTO post_metrics_1h
SELECT post_id, toStartOfHour(_source_ts) AS hour, 0, 0, 0, 0, 0, toInt64(sum(_sign)), 0
FROM likes_cdc
WHERE _sign != 0 AND user_id != post_author_id
GROUP BY post_id, hour;

INSERT INTO post_metrics_1h
SELECT post_id, toStartOfHour(_source_ts) AS hour, 0, 0, 0, 0, 0, 0, toInt64(sum(_sign))
FROM comments_cdc
WHERE _sign != 0 AND author_id != post_author_id
GROUP BY post_id, hour;

INSERT INTO user_author_90d
SELECT user_id, post_author_id, toDate(_source_ts) AS d, toInt64(sum(_sign))
FROM likes_cdc
WHERE _sign != 0 AND user_id != post_author_id AND toDate(_source_ts) >= today() - 90
GROUP BY user_id, post_author_id, d;

INSERT INTO user_author_90d
SELECT author_id, post_author_id, toDate(_source_ts) AS d, toInt64(sum(_sign))
FROM comments_cdc
WHERE _sign != 0 AND author_id != post_author_id AND toDate(_source_ts) >= today() - 90
GROUP BY author_id, post_author_id, d;

INSERT INTO user_author_90d
SELECT user_id, author_id, toDate(received_at) AS d, toInt64(count())
FROM events_raw FINAL
WHERE counted = 1 AND type IN ('click', 'share') AND user_id != author_id
  AND author_id != toUUID('00000000-0000-0000-0000-000000000000') AND toDate(received_at) >= today() - 90
GROUP BY user_id, author_id, d;

INSERT INTO experiment_daily
SELECT experiment, variant, toDate(received_at) AS day, uniqState(user_id),
       toInt64(countIf(type = 'impression' AND counted = 1)), toInt64(countIf(type = 'view' AND counted = 1)),
       toInt64(countIf(type = 'click' AND counted = 1)), toInt64(countIf(type = 'share' AND counted = 1))
FROM events_raw FINAL
WHERE experiment != '' AND variant != ''
GROUP BY experiment, variant, day;

-- The views again; filters run in an inner query on plain columns (no alias shadows a column
-- that WHERE reads).
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
WHERE counted = 1
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_likes_mv TO post_metrics_1h AS
SELECT
    pid AS post_id,
    toStartOfHour(ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(sum(sign)) AS likes,
    toInt64(0) AS comments
FROM (
    SELECT post_id AS pid, _source_ts AS ts, _sign AS sign
    FROM likes_cdc
    WHERE _sign != 0 AND user_id != post_author_id
)
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS post_metrics_1h_comments_mv TO post_metrics_1h AS
SELECT
    pid AS post_id,
    toStartOfHour(ts) AS hour,
    toInt64(0) AS impressions, toInt64(0) AS views, toInt64(0) AS clicks, toInt64(0) AS shares, toInt64(0) AS dwell_ms,
    toInt64(0) AS likes,
    toInt64(sum(sign)) AS comments
FROM (
    SELECT post_id AS pid, _source_ts AS ts, _sign AS sign
    FROM comments_cdc
    WHERE _sign != 0 AND author_id != post_author_id
)
GROUP BY post_id, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_likes_mv TO user_author_90d AS
SELECT liker AS user_id, post_author AS author_id, toDate(ts) AS day, toInt64(sum(sign)) AS interactions
FROM (
    SELECT user_id AS liker, post_author_id AS post_author, _source_ts AS ts, _sign AS sign
    FROM likes_cdc
    WHERE _sign != 0 AND user_id != post_author_id
)
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_comments_mv TO user_author_90d AS
SELECT commenter AS user_id, post_author AS author_id, toDate(ts) AS day, toInt64(sum(sign)) AS interactions
FROM (
    SELECT author_id AS commenter, post_author_id AS post_author, _source_ts AS ts, _sign AS sign
    FROM comments_cdc
    WHERE _sign != 0 AND author_id != post_author_id
)
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS user_author_90d_events_mv TO user_author_90d AS
SELECT user_id, author_id, toDate(received_at) AS day, toInt64(count()) AS interactions
FROM events_raw
WHERE counted = 1 AND type IN ('click', 'share') AND user_id != author_id
  AND author_id != toUUID('00000000-0000-0000-0000-000000000000')
GROUP BY user_id, author_id, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_counted_keys_mv TO event_counted_keys AS
SELECT user_id, post_id, type, if(type = 'impression', toDate(received_at), toDate(0)) AS day,
       min(received_at) AS first_at
FROM events_raw
WHERE counted = 1 AND type IN ('impression', 'click', 'share')
GROUP BY user_id, post_id, type, day;

CREATE MATERIALIZED VIEW IF NOT EXISTS experiment_daily_mv TO experiment_daily AS
SELECT
    experiment,
    variant,
    toDate(received_at) AS day,
    uniqState(user_id) AS users,
    toInt64(countIf(type = 'impression' AND counted = 1)) AS impressions,
    toInt64(countIf(type = 'view' AND counted = 1)) AS views,
    toInt64(countIf(type = 'click' AND counted = 1)) AS clicks,
    toInt64(countIf(type = 'share' AND counted = 1)) AS shares
FROM events_raw
WHERE experiment != '' AND variant != ''
GROUP BY experiment, variant, day;
