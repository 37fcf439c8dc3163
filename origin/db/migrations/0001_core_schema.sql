-- Core OLTP schema: the source of truth. UUID keys, `deleted_at` soft delete on every table a
-- user can remove rows from (all of them here), updated_at maintained by trigger.
-- REPLICA IDENTITY FULL: Debezium's delete events then carry the whole before-row, which the
-- ClickHouse CDC tables need (their ordering keys include non-key columns such as author and
-- time, and counts are decremented per post).

CREATE OR REPLACE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TABLE users (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  handle       text NOT NULL CHECK (handle ~ '^[A-Za-z0-9_]{1,32}$'),
  display_name text NOT NULL DEFAULT '' CHECK (char_length(display_name) <= 64),
  bio          text NOT NULL DEFAULT '' CHECK (char_length(bio) <= 280),
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  deleted_at   timestamptz
);
CREATE UNIQUE INDEX users_handle_live_key ON users (lower(handle)) WHERE deleted_at IS NULL;

CREATE TABLE posts (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  author_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  text       text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX posts_author_created_idx ON posts (author_id, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_created_idx ON posts (created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE follows (
  follower_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  followee_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  deleted_at  timestamptz,
  PRIMARY KEY (follower_id, followee_id),
  CONSTRAINT follows_no_self_follow CHECK (follower_id <> followee_id)
);
CREATE INDEX follows_followee_idx ON follows (followee_id) WHERE deleted_at IS NULL;

CREATE TABLE likes (
  user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  post_id        uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  -- The post's author, copied by trigger: the affinity signal (user → author) then needs no
  -- lookup in the CDC pipeline, where posts and likes travel on different topics.
  post_author_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  -- One like per user and post: liking again revives the row instead of adding one.
  PRIMARY KEY (user_id, post_id)
);
CREATE INDEX likes_post_idx ON likes (post_id) WHERE deleted_at IS NULL;

CREATE TABLE comments (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  post_id    uuid NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  author_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The post's author, copied by trigger (see likes.post_author_id).
  post_author_id uuid NOT NULL,
  text       text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 1000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX comments_post_created_idx ON comments (post_id, created_at) WHERE deleted_at IS NULL;
CREATE INDEX comments_author_idx ON comments (author_id);

CREATE TABLE blocks (
  blocker_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  blocked_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  PRIMARY KEY (blocker_id, blocked_id),
  CONSTRAINT blocks_no_self_block CHECK (blocker_id <> blocked_id)
);
CREATE INDEX blocks_blocked_idx ON blocks (blocked_id) WHERE deleted_at IS NULL;

-- Fills post_author_id from the post on insert; a post's author never changes.
CREATE OR REPLACE FUNCTION fill_post_author_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT author_id INTO NEW.post_author_id FROM posts WHERE id = NEW.post_id;
  RETURN NEW;
END
$$;
CREATE TRIGGER likes_fill_author BEFORE INSERT ON likes FOR EACH ROW EXECUTE FUNCTION fill_post_author_id();
CREATE TRIGGER comments_fill_author BEFORE INSERT ON comments FOR EACH ROW EXECUTE FUNCTION fill_post_author_id();

CREATE TRIGGER users_touch BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER posts_touch BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER follows_touch BEFORE UPDATE ON follows FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER likes_touch BEFORE UPDATE ON likes FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER comments_touch BEFORE UPDATE ON comments FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
CREATE TRIGGER blocks_touch BEFORE UPDATE ON blocks FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

ALTER TABLE users REPLICA IDENTITY FULL;
ALTER TABLE posts REPLICA IDENTITY FULL;
ALTER TABLE follows REPLICA IDENTITY FULL;
ALTER TABLE likes REPLICA IDENTITY FULL;
ALTER TABLE comments REPLICA IDENTITY FULL;
ALTER TABLE blocks REPLICA IDENTITY FULL;

-- The publication Debezium reads (pgoutput). Created here, by the tables' owner, so the CDC
-- role needs only REPLICATION and SELECT; the connector runs with publication.autocreate.mode=disabled.
CREATE PUBLICATION feed_cdc FOR TABLE users, posts, follows, likes, comments, blocks;
