-- Ranking experiments (issue 17): outcomes per experiment, variant and day.
--
-- Every event may carry the experiment and variant it happened under (edge/core/events.ts; the
-- edge fills them in from the served snapshot when the client leaves them out). Events without
-- them get '' (the default), so older edges, relays and sinks keep working unchanged.
--
-- What counts, once, from its source of truth as everywhere else:
-- * impressions, views, clicks and shares: events_raw rows of the experiment, `counted` ones
--   only (the abuse bound: one click and one share per user and post, one impression per user,
--   post and day, never on one's own post);
-- * likes and comments: PostgreSQL writes, counted from their CDC tables (live rows only, so an
--   unlike or a deleted comment leaves the count). A like or comment is attributed to the
--   variant under which its user first saw the post (an impression carrying the experiment),
--   when it was made after that (with 10 minutes of slack: clients batch impressions, so an
--   impression may arrive after the like it led to);
-- * users: distinct users with any event of the variant (uniq; merged across days for totals).
--
-- Apply with the sink stopped, as the origin does: no backfill is needed (the columns are new,
-- so no earlier event carries an experiment).

ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS experiment LowCardinality(String) DEFAULT '' AFTER counted;
ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS variant LowCardinality(String) DEFAULT '' AFTER experiment;

-- Event outcomes per experiment, variant and day. AggregatingMergeTree: read with
-- uniqMerge(users) and sum(...) GROUP BY.
CREATE TABLE IF NOT EXISTS experiment_daily
(
    experiment  LowCardinality(String),
    variant     LowCardinality(String),
    day         Date,
    users       AggregateFunction(uniq, UUID),
    impressions SimpleAggregateFunction(sum, Int64),
    views       SimpleAggregateFunction(sum, Int64),
    clicks      SimpleAggregateFunction(sum, Int64),
    shares      SimpleAggregateFunction(sum, Int64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (experiment, variant, day)
TTL day + INTERVAL 90 DAY;

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

-- Who saw which post under which variant, first when: what likes and comments are attributed by.
CREATE TABLE IF NOT EXISTS experiment_exposures
(
    experiment LowCardinality(String),
    user_id    UUID,
    post_id    UUID,
    variant    LowCardinality(String),
    first_at   SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (experiment, user_id, post_id, variant)
TTL toDateTime(first_at) + INTERVAL 90 DAY;

CREATE MATERIALIZED VIEW IF NOT EXISTS experiment_exposures_mv TO experiment_exposures AS
SELECT experiment, user_id, post_id, variant, min(received_at) AS first_at
FROM events_raw
WHERE type = 'impression' AND experiment != '' AND variant != ''
GROUP BY experiment, user_id, post_id, variant;

-- Likes and comments attributed to a variant, one row each (kind 'like' or 'comment'), dated
-- by when they were made. The first exposure wins should a user have seen a post under two
-- variants (a promotion in between).
CREATE VIEW IF NOT EXISTS experiment_interactions AS
WITH exposure AS
(
    SELECT experiment, user_id, post_id, argMin(variant, f) AS variant, min(f) AS first_at
    FROM
    (
        SELECT experiment, user_id, post_id, variant, min(first_at) AS f
        FROM experiment_exposures
        GROUP BY experiment, user_id, post_id, variant
    )
    GROUP BY experiment, user_id, post_id
)
SELECT x.experiment AS experiment, x.variant AS variant, toDate(l.created_at) AS day, l.user_id AS user_id, 'like' AS kind
FROM likes_current AS l
INNER JOIN exposure AS x ON l.user_id = x.user_id AND l.post_id = x.post_id
WHERE l.deleted_at IS NULL AND l.created_at >= x.first_at - INTERVAL 10 MINUTE
UNION ALL
SELECT x.experiment AS experiment, x.variant AS variant, toDate(c.created_at) AS day, c.author_id AS user_id, 'comment' AS kind
FROM comments_current AS c
INNER JOIN exposure AS x ON c.author_id = x.user_id AND c.post_id = x.post_id
WHERE c.deleted_at IS NULL AND c.created_at >= x.first_at - INTERVAL 10 MINUTE;

-- Everything a variant's states hold per day, merged: the per-day readout.
CREATE VIEW IF NOT EXISTS experiment_variant_states AS
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

-- Per experiment, variant and day: users, impressions, views, clicks, shares, likes, comments
-- and the click-through and like rates (per impression).
CREATE VIEW IF NOT EXISTS experiment_variant_daily AS
SELECT experiment, variant, day,
       uniqMerge(users) AS users,
       sum(impressions) AS impressions, sum(views) AS views, sum(clicks) AS clicks, sum(shares) AS shares,
       sum(likes) AS likes, sum(comments) AS comments,
       if(impressions > 0, clicks / impressions, 0) AS ctr,
       if(impressions > 0, likes / impressions, 0) AS like_rate
FROM experiment_variant_states
GROUP BY experiment, variant, day;

-- The same over the whole experiment (users distinct across days): what the results table reads.
CREATE VIEW IF NOT EXISTS experiment_variant_totals AS
SELECT experiment, variant,
       uniqMerge(users) AS users,
       sum(impressions) AS impressions, sum(views) AS views, sum(clicks) AS clicks, sum(shares) AS shares,
       sum(likes) AS likes, sum(comments) AS comments,
       if(impressions > 0, clicks / impressions, 0) AS ctr,
       if(impressions > 0, likes / impressions, 0) AS like_rate,
       min(day) AS first_day, max(day) AS last_day
FROM experiment_variant_states
GROUP BY experiment, variant;
