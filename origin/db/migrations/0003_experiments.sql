-- Ranking experiments (issue 17): experiments as data, managed through the origin's operator
-- API (origin/src/writes/experiments.ts), captured by Debezium like every other table and
-- projected into Redis for the edge (origin/src/experiments/projection.ts).
--
-- The variants are one JSONB column (the list validated by edge/core/experiments.ts before it
-- is written): a change to an experiment is then one row, and one CDC event carries the whole
-- experiment. The database checks what it can check cheaply (names, status, a non-empty list);
-- the weight bounds and the shares summing to 100 are the core schema's.

CREATE TABLE experiments (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,47}$'),
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
  status      text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'stopped')),
  -- [{"name", "weights": {freshness, engagement, affinity, freshnessDecayPerHour}, "share"}]
  variants    jsonb NOT NULL CHECK (jsonb_typeof(variants) = 'array' AND jsonb_array_length(variants) BETWEEN 2 AND 5),
  -- The variant the others are compared with, and the candidate default (the canary).
  control     text NOT NULL,
  candidate   text,
  -- The variant promoted to everyone (while the experiment runs), and when.
  promoted    text,
  started_at  timestamptz,
  stopped_at  timestamptz,
  promoted_at timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT experiments_started_when_running CHECK (status = 'draft' OR started_at IS NOT NULL),
  CONSTRAINT experiments_promoted_when_running CHECK (promoted IS NULL OR status <> 'draft')
);
-- Variants are whole weight sets: two running experiments would fight over the same weights.
CREATE UNIQUE INDEX experiments_one_running ON experiments ((true)) WHERE status = 'running';
CREATE TRIGGER experiments_touch BEFORE UPDATE ON experiments FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

-- The audit trail: every create, update, start, stop and promote, with who and when. Rows are
-- only ever inserted.
CREATE TABLE experiment_changes (
  id            bigserial PRIMARY KEY,
  experiment_id uuid NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
  action        text NOT NULL CHECK (action IN ('create', 'update', 'start', 'stop', 'promote')),
  actor         text NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 128),
  -- What changed (e.g. the promoted variant, the variants of an update).
  detail        jsonb NOT NULL DEFAULT '{}'::jsonb,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX experiment_changes_experiment_idx ON experiment_changes (experiment_id, at);

ALTER TABLE experiments REPLICA IDENTITY FULL;
ALTER TABLE experiment_changes REPLICA IDENTITY FULL;

-- Captured like the core tables (topics cdc.experiments and cdc.experiment_changes).
ALTER PUBLICATION feed_cdc ADD TABLE experiments, experiment_changes;
