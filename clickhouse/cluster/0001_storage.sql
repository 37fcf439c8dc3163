-- The single-node DDL of clickhouse/ (its state after 0001-0006) for a ClickHouse cluster of
-- shards and replicas: every table of it, replicated and sharded. Not applied by
-- `npm run ch:migrate` (which reads clickhouse/*.sql only); see docs/scale.md, "ClickHouse
-- cluster", for how to apply it and why each key was chosen. A ClickHouse Cloud service needs
-- none of this: it stores every MergeTree table in shared object storage and takes the
-- single-node DDL as it is.
--
-- Every node's configuration defines the macros `{cluster}` (the cluster's name in
-- remote_servers, each shard with `<internal_replication>true</internal_replication>`: the
-- Distributed tables write to one replica and replication does the rest), `{shard}` and
-- `{replica}`. The database exists on every node first
-- (`CREATE DATABASE IF NOT EXISTS feed ON CLUSTER '{cluster}'`); then this file and 0002 are
-- run once, on any node, with that database as the default (names are unqualified, as in the
-- single-node files), and ON CLUSTER runs each statement on every node.
--
-- Naming: `<table>_local` is the storage on each node, Replicated<engine> with the single-node
-- table's columns, engine parameters (version and is-deleted columns), ORDER BY, PARTITION BY,
-- TTL and settings; `<table>` is a Distributed table over the shards' `<table>_local`, so every
-- query of the edge and the origin runs unchanged against the names it uses today.
--
-- Sharding keys. A replacing (or aggregating) engine only merges rows that sit on the same
-- shard, so every version of a row must reach the shard of the first: each key is a column
-- that no later version changes. Among those, the acting user is chosen wherever there is one
-- (events, likes, comments, follows, blocks): a user's events, counted keys, exposures and
-- affinity rows then sit on one shard, the sink's per-user lookups read one shard, and the
-- experiments' join of likes and comments with exposures runs on each shard by itself.
-- Materialized views (0002) run on the shard that received the source rows and write to that
-- shard's `_local` target; the key of a view-fed table below only routes rows inserted through
-- its Distributed table (backfills).
--
-- The replication path names the shard, the database and the table; `{replica}` names the node.

-- Events from the edge. Replaced by event_id, keeping the last insert: the sink's settling
-- insert (author and counted flag filled in) must land on the shard of the first, and both
-- carry the same user.
CREATE TABLE IF NOT EXISTS events_raw_local ON CLUSTER '{cluster}'
(
    event_id     UUID,
    user_id      UUID,
    post_id      UUID,
    author_id    UUID,
    type         Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    dwell_ms     UInt32,
    counted      UInt8 DEFAULT 1,
    experiment   LowCardinality(String) DEFAULT '',
    variant      LowCardinality(String) DEFAULT '',
    client_ts    DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_raw_local', '{replica}')
PARTITION BY toYYYYMM(received_at)
ORDER BY event_id
TTL toDateTime(received_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS events_raw ON CLUSTER '{cluster}' AS events_raw_local
ENGINE = Distributed('{cluster}', currentDatabase(), events_raw_local, cityHash64(user_id));

-- What already counted, per (user, post, type, day): kept by a view from events_raw, so on the
-- event's shard, which is its user's.
CREATE TABLE IF NOT EXISTS event_counted_keys_local ON CLUSTER '{cluster}'
(
    user_id  UUID,
    post_id  UUID,
    type     Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    day      Date,
    first_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/event_counted_keys_local', '{replica}')
ORDER BY (user_id, post_id, type, day)
TTL toDateTime(first_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS event_counted_keys ON CLUSTER '{cluster}' AS event_counted_keys_local
ENGINE = Distributed('{cluster}', currentDatabase(), event_counted_keys_local, cityHash64(user_id));

-- Events waiting for their post. The settling row (version 2) carries the same post as the
-- pending one; by post, the sink's lookup of the posts that have arrived reads their shards only.
CREATE TABLE IF NOT EXISTS events_pending_local ON CLUSTER '{cluster}'
(
    event_id    UUID,
    user_id     UUID,
    post_id     UUID,
    type        Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    received_at DateTime64(3, 'UTC'),
    _version    UInt64,
    _is_deleted UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_pending_local', '{replica}', _version, _is_deleted)
ORDER BY (post_id, event_id)
TTL toDateTime(received_at) + INTERVAL 8 DAY;

CREATE TABLE IF NOT EXISTS events_pending ON CLUSTER '{cluster}' AS events_pending_local
ENGINE = Distributed('{cluster}', currentDatabase(), events_pending_local, cityHash64(post_id));

-- CDC mirrors: ReplacingMergeTree(_version, _is_deleted), every change of a row on the shard of
-- its key.
CREATE TABLE IF NOT EXISTS users_cdc_local ON CLUSTER '{cluster}'
(
    id           UUID,
    handle       String,
    display_name String,
    bio          String,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted_at   Nullable(DateTime64(3, 'UTC')),
    _version     UInt64,
    _is_deleted  UInt8,
    _sign        Int8,
    _source_ts   DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/users_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY id;

CREATE TABLE IF NOT EXISTS users_cdc ON CLUSTER '{cluster}' AS users_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), users_cdc_local, cityHash64(id));

-- By author: a post never changes author, and the feed's candidate lookups ask for the posts of
-- a few authors.
CREATE TABLE IF NOT EXISTS posts_cdc_local ON CLUSTER '{cluster}'
(
    id           UUID,
    author_id    UUID,
    text         String,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted_at   Nullable(DateTime64(3, 'UTC')),
    _version     UInt64,
    _is_deleted  UInt8,
    _sign        Int8,
    _source_ts   DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/posts_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY (author_id, created_at, id);

CREATE TABLE IF NOT EXISTS posts_cdc ON CLUSTER '{cluster}' AS posts_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), posts_cdc_local, cityHash64(author_id));

-- By follower: "whom does this user follow" reads one shard.
CREATE TABLE IF NOT EXISTS follows_cdc_local ON CLUSTER '{cluster}'
(
    follower_id  UUID,
    followee_id  UUID,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted_at   Nullable(DateTime64(3, 'UTC')),
    _version     UInt64,
    _is_deleted  UInt8,
    _sign        Int8,
    _source_ts   DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/follows_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY (follower_id, followee_id);

CREATE TABLE IF NOT EXISTS follows_cdc ON CLUSTER '{cluster}' AS follows_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), follows_cdc_local, cityHash64(follower_id));

-- By the liker (not the post): with the liker's events, so the affinity rows of a user and the
-- experiments' attribution of likes stay on the user's shard.
CREATE TABLE IF NOT EXISTS likes_cdc_local ON CLUSTER '{cluster}'
(
    user_id        UUID,
    post_id        UUID,
    post_author_id UUID,
    created_at     DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    deleted_at     Nullable(DateTime64(3, 'UTC')),
    _version       UInt64,
    _is_deleted    UInt8,
    _sign          Int8,
    _source_ts     DateTime64(3, 'UTC'),
    _ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/likes_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY (post_id, user_id);

CREATE TABLE IF NOT EXISTS likes_cdc ON CLUSTER '{cluster}' AS likes_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), likes_cdc_local, cityHash64(user_id));

-- By the commenter (`author_id`), for the same reason.
CREATE TABLE IF NOT EXISTS comments_cdc_local ON CLUSTER '{cluster}'
(
    id             UUID,
    post_id        UUID,
    author_id      UUID,
    post_author_id UUID,
    text           String,
    created_at     DateTime64(3, 'UTC'),
    updated_at     DateTime64(3, 'UTC'),
    deleted_at     Nullable(DateTime64(3, 'UTC')),
    _version       UInt64,
    _is_deleted    UInt8,
    _sign          Int8,
    _source_ts     DateTime64(3, 'UTC'),
    _ingested_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/comments_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY (post_id, id);

CREATE TABLE IF NOT EXISTS comments_cdc ON CLUSTER '{cluster}' AS comments_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), comments_cdc_local, cityHash64(author_id));

CREATE TABLE IF NOT EXISTS blocks_cdc_local ON CLUSTER '{cluster}'
(
    blocker_id   UUID,
    blocked_id   UUID,
    created_at   DateTime64(3, 'UTC'),
    updated_at   DateTime64(3, 'UTC'),
    deleted_at   Nullable(DateTime64(3, 'UTC')),
    _version     UInt64,
    _is_deleted  UInt8,
    _sign        Int8,
    _source_ts   DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/blocks_cdc_local', '{replica}', _version, _is_deleted)
ORDER BY (blocker_id, blocked_id);

CREATE TABLE IF NOT EXISTS blocks_cdc ON CLUSTER '{cluster}' AS blocks_cdc_local
ENGINE = Distributed('{cluster}', currentDatabase(), blocks_cdc_local, cityHash64(blocker_id));

-- Posts by id, kept by a view from posts_cdc: on the shard of the post's author, like its
-- source (a lookup by id reads every shard, each on its primary key).
CREATE TABLE IF NOT EXISTS posts_by_id_local ON CLUSTER '{cluster}'
(
    id          UUID,
    author_id   UUID,
    text        String,
    created_at  DateTime64(3, 'UTC'),
    deleted_at  Nullable(DateTime64(3, 'UTC')),
    _version    UInt64,
    _is_deleted UInt8
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/posts_by_id_local', '{replica}', _version, _is_deleted)
ORDER BY id;

CREATE TABLE IF NOT EXISTS posts_by_id ON CLUSTER '{cluster}' AS posts_by_id_local
ENGINE = Distributed('{cluster}', currentDatabase(), posts_by_id_local, cityHash64(author_id));

-- Nothing replaces or counts here: any shard will do.
CREATE TABLE IF NOT EXISTS dead_letters_local ON CLUSTER '{cluster}'
(
    topic       LowCardinality(String),
    partition   Int32,
    offset      Int64,
    key         String,
    value       String,
    error       String,
    failed_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/dead_letters_local', '{replica}')
PARTITION BY toYYYYMM(failed_at)
ORDER BY (topic, failed_at)
TTL toDateTime(failed_at) + INTERVAL 30 DAY;

CREATE TABLE IF NOT EXISTS dead_letters ON CLUSTER '{cluster}' AS dead_letters_local
ENGINE = Distributed('{cluster}', currentDatabase(), dead_letters_local, rand());

-- Aggregates. Their views run on the shard of the source rows, so one post's (or author's, or
-- variant's) partial sums sit on several shards; every reader already sums with GROUP BY, which
-- through the Distributed table adds the shards' partials. user_author_90d and
-- experiment_exposures are fed only by the acting user's rows and so sit on that user's shard.
CREATE TABLE IF NOT EXISTS post_metrics_1h_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/post_metrics_1h_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (post_id, hour)
TTL hour + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS post_metrics_1h ON CLUSTER '{cluster}' AS post_metrics_1h_local
ENGINE = Distributed('{cluster}', currentDatabase(), post_metrics_1h_local, cityHash64(post_id));

CREATE TABLE IF NOT EXISTS post_totals_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/post_totals_local', '{replica}')
ORDER BY post_id
SETTINGS index_granularity = 256;

CREATE TABLE IF NOT EXISTS post_totals ON CLUSTER '{cluster}' AS post_totals_local
ENGINE = Distributed('{cluster}', currentDatabase(), post_totals_local, cityHash64(post_id));

CREATE TABLE IF NOT EXISTS user_author_90d_local ON CLUSTER '{cluster}'
(
    user_id      UUID,
    author_id    UUID,
    day          Date,
    interactions Int64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/user_author_90d_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (user_id, author_id, day)
TTL day + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS user_author_90d ON CLUSTER '{cluster}' AS user_author_90d_local
ENGINE = Distributed('{cluster}', currentDatabase(), user_author_90d_local, cityHash64(user_id));

CREATE TABLE IF NOT EXISTS author_stats_local ON CLUSTER '{cluster}'
(
    author_id UUID,
    followers Int64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/author_stats_local', '{replica}')
ORDER BY author_id;

CREATE TABLE IF NOT EXISTS author_stats ON CLUSTER '{cluster}' AS author_stats_local
ENGINE = Distributed('{cluster}', currentDatabase(), author_stats_local, cityHash64(author_id));

-- One generation (200 rows, written at once) stays on one shard; readers take max(generation)
-- over all of them.
CREATE TABLE IF NOT EXISTS trending_posts_local ON CLUSTER '{cluster}'
(
    generation  UInt64,
    rank        UInt16,
    post_id     UUID,
    author_id   UUID,
    score       Float64,
    computed_at DateTime64(3, 'UTC')
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/trending_posts_local', '{replica}')
ORDER BY (generation, rank)
TTL toDateTime(computed_at) + INTERVAL 1 HOUR;

CREATE TABLE IF NOT EXISTS trending_posts ON CLUSTER '{cluster}' AS trending_posts_local
ENGINE = Distributed('{cluster}', currentDatabase(), trending_posts_local, generation);

CREATE TABLE IF NOT EXISTS experiment_daily_local ON CLUSTER '{cluster}'
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/experiment_daily_local', '{replica}')
PARTITION BY toYYYYMM(day)
ORDER BY (experiment, variant, day)
TTL day + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS experiment_daily ON CLUSTER '{cluster}' AS experiment_daily_local
ENGINE = Distributed('{cluster}', currentDatabase(), experiment_daily_local, cityHash64(experiment));

CREATE TABLE IF NOT EXISTS experiment_exposures_local ON CLUSTER '{cluster}'
(
    experiment LowCardinality(String),
    user_id    UUID,
    post_id    UUID,
    variant    LowCardinality(String),
    first_at   SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/experiment_exposures_local', '{replica}')
ORDER BY (experiment, user_id, post_id, variant)
TTL toDateTime(first_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS experiment_exposures ON CLUSTER '{cluster}' AS experiment_exposures_local
ENGINE = Distributed('{cluster}', currentDatabase(), experiment_exposures_local, cityHash64(user_id));
