-- Schema the baseline adds, idempotently (serialised by an advisory lock so two starting
-- baselines don't race on CREATE … IF NOT EXISTS). Only what its queries need; none of it is
-- in the CDC publication, and no trigger is added to the product's tables:
-- - bench_events: the event log (the edge appends to a Redis stream instead).
-- - bench_counted_keys: what already counted, by (user, post, type, day) with day 1970-01-01
--   for shares and clicks (once ever) and the UTC receive day for impressions (once a day):
--   the primary key decides the abuse bound, as event_counted_keys does on ClickHouse.
-- - bench_post_counters: counted impressions, views, clicks, shares, dwell per post.
-- - bench_user_author_days: counted shares + clicks of a user on an author per UTC day (the
--   event half of the affinity; likes and comments are read live from their tables).
-- - bench_seen: the last impression per (user, post); the feed drops posts seen in 7 days.
-- - bench_trending_pool, bench_popular_authors: materialized views (unique indexes, so they
--   refresh CONCURRENTLY without blocking readers). CREATE … IF NOT EXISTS keeps an existing
--   view as it was, so the trending pool carries its definition's version as a comment and
--   ensureBaselineSchema replaces a pool of another version (BASELINE_TRENDING_VIEW_VERSION).
-- - bench_likes_post_others_idx, bench_comments_post_others_idx: a post's live likes /
--   comments but its author's own, so the feed's engagement counts read indexes only.
-- - bench_likes_viewer_author_idx, bench_comments_viewer_author_idx: the viewer's live likes /
--   comments by post author and time, so the affinity reads indexes only.
-- - bench_follows_live_idx: live follows by follower (the followees, both hops of the
--   suggestions) as an index-only scan.
-- - The reads' keysets, as a team adds them for "newest first, then older pages" lists:
--   bench_posts_author_keyset_idx (an author's posts by (created_at, id)),
--   bench_follows_followee_keyset_idx / bench_follows_follower_keyset_idx (a user's followers /
--   following by (follow created_at, the other user)), bench_comments_post_keyset_idx (a post's
--   comments by (created_at, id)); each page is one index range scan from the cursor.
-- Every other access path is an index of origin/db/migrations/0001_core_schema.sql.
CREATE TABLE IF NOT EXISTS bench_events (
  event_id    uuid PRIMARY KEY,
  user_id     uuid NOT NULL,
  post_id     uuid NOT NULL,
  type        text NOT NULL,
  dwell_ms    int NOT NULL DEFAULT 0,
  client_ts   timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS bench_counted_keys (
  user_id  uuid NOT NULL,
  post_id  uuid NOT NULL,
  type     text NOT NULL,
  day      date NOT NULL,
  first_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, post_id, type, day)
);

CREATE TABLE IF NOT EXISTS bench_post_counters (
  post_id     uuid PRIMARY KEY,
  impressions bigint NOT NULL DEFAULT 0,
  views       bigint NOT NULL DEFAULT 0,
  clicks      bigint NOT NULL DEFAULT 0,
  shares      bigint NOT NULL DEFAULT 0,
  dwell_ms    bigint NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS bench_user_author_days (
  user_id   uuid NOT NULL,
  author_id uuid NOT NULL,
  day       date NOT NULL,
  n         bigint NOT NULL,
  PRIMARY KEY (user_id, author_id, day)
);

CREATE TABLE IF NOT EXISTS bench_seen (
  user_id uuid NOT NULL,
  post_id uuid NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, post_id)
);

CREATE INDEX IF NOT EXISTS bench_likes_viewer_author_idx
  ON likes (user_id, post_author_id, created_at) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_comments_viewer_author_idx
  ON comments (author_id, post_author_id, created_at) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_likes_post_others_idx
  ON likes (post_id) WHERE deleted_at IS NULL AND user_id <> post_author_id;

CREATE INDEX IF NOT EXISTS bench_comments_post_others_idx
  ON comments (post_id) WHERE deleted_at IS NULL AND author_id <> post_author_id;

CREATE INDEX IF NOT EXISTS bench_follows_live_idx
  ON follows (follower_id, followee_id) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_posts_author_keyset_idx
  ON posts (author_id, created_at, id) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_follows_followee_keyset_idx
  ON follows (followee_id, created_at, follower_id) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_follows_follower_keyset_idx
  ON follows (follower_id, created_at, followee_id) WHERE deleted_at IS NULL;

CREATE INDEX IF NOT EXISTS bench_comments_post_keyset_idx
  ON comments (post_id, created_at, id) WHERE deleted_at IS NULL;
