-- Every interaction counts, once (and repairs what 0002 counted wrong).
--
-- The rule (README "Ranking"): toward engagement and affinity, per (user, post) at most one
-- share and one click count, impressions at most once per (user, post, day), and never a user's
-- events on their own posts. The sink decides it per event and records it in
-- `events_raw.counted` (it looks up what already counted in `event_counted_keys`); the views
-- below count only counted events.
--
-- What 0002 got wrong, repaired here for data already loaded:
-- * user_author_90d_comments_mv selected `post_author_id AS author_id` and filtered
--   `author_id != post_author_id`: ClickHouse resolves the alias inside WHERE, so the condition
--   was always false and no comment ever reached user_author_90d.
-- * the sink's author lookup aliased `toString(id) AS id` and then filtered `id IN [UUIDs]`,
--   so it found nothing: every live events_raw row has the zero UUID as author_id, and no
--   share or click ever reached user_author_90d.
--
-- Apply with the sink stopped (as the origin does: migrations run before its parts start);
-- changes inserted between the view drops and re-creates below would be missed. Every step can
-- be run again: an interrupted run is finished by the next.

ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS counted UInt8 DEFAULT 1 AFTER dwell_ms;

-- What already counted, by (user, post, type, day); `day` is 1970-01-01 for shares and clicks
-- (once ever) and the receive day for impressions (once a day). Ordered by user, so the sink's
-- per-batch lookup stays on the primary index.
CREATE TABLE IF NOT EXISTS event_counted_keys
(
    user_id  UUID,
    post_id  UUID,
    type     Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    day      Date,
    first_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (user_id, post_id, type, day)
TTL toDateTime(first_at) + INTERVAL 90 DAY;

DROP VIEW IF EXISTS post_metrics_1h_events_mv;
DROP VIEW IF EXISTS user_author_90d_comments_mv;
DROP VIEW IF EXISTS user_author_90d_events_mv;
DROP VIEW IF EXISTS event_counted_keys_mv;

-- Repair events_raw in place: each row again with its post's author and its counted flag
-- (first share/click per (user, post), first impression per (user, post, day), never on one's
-- own post). events_raw replaces by event_id keeping the last insert, and OPTIMIZE FINAL makes
-- that immediate. No view reads events_raw at this point, so nothing is counted twice.
INSERT INTO events_raw (event_id, user_id, post_id, author_id, type, dwell_ms, counted, client_ts, received_at, _ingested_at)
SELECT event_id, user_id, post_id, author, type, dwell_ms,
       toUInt8(multiIf(
         user_id = author, 0,
         type IN ('share', 'click'), first_ever = 1,
         type = 'impression', first_of_day = 1,
         1)) AS counted,
       client_ts, received_at, _ingested_at
FROM (
    SELECT e.event_id, e.user_id, e.post_id,
           if(e.author_id != toUUID('00000000-0000-0000-0000-000000000000'), e.author_id,
              ifNull(p.author_id, e.author_id)) AS author,
           e.type, e.dwell_ms, e.client_ts, e.received_at, e._ingested_at,
           row_number() OVER (PARTITION BY e.user_id, e.post_id, e.type ORDER BY e.received_at, e.event_id) AS first_ever,
           row_number() OVER (PARTITION BY e.user_id, e.post_id, e.type, toDate(e.received_at)
                              ORDER BY e.received_at, e.event_id) AS first_of_day
    FROM events_raw AS e FINAL
    LEFT JOIN (SELECT id, author_id FROM posts_by_id FINAL) AS p ON p.id = e.post_id
)
SETTINGS join_use_nulls = 1;

OPTIMIZE TABLE events_raw FINAL;

TRUNCATE TABLE IF EXISTS event_counted_keys;

INSERT INTO event_counted_keys
SELECT user_id, post_id, type, if(type = 'impression', toDate(received_at), toDate(0)) AS day, min(received_at)
FROM events_raw FINAL
WHERE counted = 1 AND type IN ('impression', 'click', 'share')
GROUP BY user_id, post_id, type, day;

-- Rebuild the counting aggregates from their sources. post_totals is fed from post_metrics_1h
-- by post_totals_mv, so emptying both and refilling post_metrics_1h rebuilds it too.
TRUNCATE TABLE IF EXISTS post_totals;
TRUNCATE TABLE IF EXISTS post_metrics_1h;
TRUNCATE TABLE IF EXISTS user_author_90d;

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
WHERE _sign != 0
GROUP BY post_id, hour;

INSERT INTO post_metrics_1h
SELECT post_id, toStartOfHour(_source_ts) AS hour, 0, 0, 0, 0, 0, 0, toInt64(sum(_sign))
FROM comments_cdc
WHERE _sign != 0
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

-- The views, counting only counted events. No output alias here shares a name with a source
-- column that WHERE reads (the trap above): filters run in an inner query on plain columns.
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
