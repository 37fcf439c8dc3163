-- A like or comment whose post does not exist (or was hard-deleted by a concurrent transaction
-- after the statement's own check) used to fail with a NOT NULL violation on post_author_id.
-- It is a dangling reference: raise it as one (SQLSTATE 23503, foreign_key_violation), the same
-- error the post_id foreign key gives, so every client sees one kind of refusal.
CREATE OR REPLACE FUNCTION fill_post_author_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT author_id INTO NEW.post_author_id FROM posts WHERE id = NEW.post_id;
  IF NEW.post_author_id IS NULL THEN
    RAISE EXCEPTION 'post % does not exist', NEW.post_id
      USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = 'post_id';
  END IF;
  RETURN NEW;
END
$$;
