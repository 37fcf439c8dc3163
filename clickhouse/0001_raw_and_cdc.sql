-- Raw events and the CDC mirrors of the PostgreSQL tables.
-- Applied by `npm run ch:migrate` into CLICKHOUSE_DATABASE (default `feed`); names are
-- unqualified so the same files serve any database (tests use throwaway ones).
--
-- CDC tables are ReplacingMergeTree(_version, _is_deleted): `_version` is the change's
-- PostgreSQL LSN, so replaying a change is harmless and the latest change wins; hard deletes
-- arrive with `_is_deleted = 1`; soft deletes are ordinary updates with `deleted_at` set.
-- `_sign` is the change's effect on the row's liveness (+1 appeared, -1 disappeared, 0 no
-- change), computed by the sink from Debezium's before/after images: the materialized views
-- sum it, so an unlike or a deleted comment lowers the counts. `_source_ts` is the commit time
-- (for CDC lag), `_ingested_at` the insert time.

-- User behaviour from the edge (topic `events`). Deduplicated by event_id: the sink skips ids
-- already present (so the materialized views count each event once) and the engine collapses
-- any duplicate row left by a race.
CREATE TABLE IF NOT EXISTS events_raw
(
    event_id     UUID,
    user_id      UUID,
    post_id      UUID,
    -- The post's author, resolved by the sink; the zero UUID when unknown.
    author_id    UUID,
    type         Enum8('impression' = 1, 'view' = 2, 'click' = 3, 'share' = 4, 'dwell' = 5),
    dwell_ms     UInt32,
    client_ts    DateTime64(3, 'UTC'),
    received_at  DateTime64(3, 'UTC'),
    _ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY event_id
TTL toDateTime(received_at) + INTERVAL 90 DAY;

CREATE TABLE IF NOT EXISTS users_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY id;

-- Posts by author and time: the follow and affinity candidate lookups.
CREATE TABLE IF NOT EXISTS posts_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (author_id, created_at, id);

-- Follows by follower: "whom does this user follow".
CREATE TABLE IF NOT EXISTS follows_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (follower_id, followee_id);

CREATE TABLE IF NOT EXISTS likes_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (post_id, user_id);

CREATE TABLE IF NOT EXISTS comments_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (post_id, id);

CREATE TABLE IF NOT EXISTS blocks_cdc
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
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY (blocker_id, blocked_id);

-- Posts by id (hydrating trending candidates, resolving an event's author), kept by a view.
CREATE TABLE IF NOT EXISTS posts_by_id
(
    id          UUID,
    author_id   UUID,
    text        String,
    created_at  DateTime64(3, 'UTC'),
    deleted_at  Nullable(DateTime64(3, 'UTC')),
    _version    UInt64,
    _is_deleted UInt8
)
ENGINE = ReplacingMergeTree(_version, _is_deleted)
ORDER BY id;

CREATE MATERIALIZED VIEW IF NOT EXISTS posts_by_id_mv TO posts_by_id AS
SELECT id, author_id, text, created_at, deleted_at, _version, _is_deleted
FROM posts_cdc;

-- Messages the sink could not use, with the reason; the pipeline goes on without them.
CREATE TABLE IF NOT EXISTS dead_letters
(
    topic       LowCardinality(String),
    partition   Int32,
    offset      Int64,
    key         String,
    value       String,
    error       String,
    failed_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(failed_at)
ORDER BY (topic, failed_at)
TTL toDateTime(failed_at) + INTERVAL 30 DAY;
