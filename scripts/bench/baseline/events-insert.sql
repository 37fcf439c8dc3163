-- Event intake: ONE statement per request (so one transaction), multi-row throughout. It stores
-- the new events (a repeated event_id is dropped) and, for those that count by the product's
-- rule (edge/core/events/counting.ts: never on one's own post; at most one share and one click per
-- (user, post) ever, one impression per (user, post, UTC day), decided by the
-- bench_counted_keys primary key), bumps the per-post counters and the per-(user, author, day)
-- interaction counts (shares and clicks: the affinity signal); every accepted impression marks
-- the post seen. Counter rows are written in key order, so concurrent requests take their row
-- locks in the same order.
--
-- $1 user uuid, $2 event ids, $3 post ids, $4 types, $5 dwell ms, $6 client ts, $7 received at.
WITH
  input AS (
    SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::timestamptz[])
      AS e(event_id, post_id, type, dwell_ms, client_ts)
  ),
  ins AS (
    INSERT INTO bench_events (event_id, user_id, post_id, type, dwell_ms, client_ts, received_at)
    SELECT event_id, $1::uuid, post_id, type, dwell_ms, client_ts, $7::timestamptz FROM input
    ON CONFLICT (event_id) DO NOTHING
    RETURNING post_id, type, dwell_ms
  ),
  eligible AS (
    SELECT i.post_id, i.type, i.dwell_ms, p.author_id
    FROM ins i LEFT JOIN posts p ON p.id = i.post_id
    WHERE p.author_id IS DISTINCT FROM $1::uuid
  ),
  keyed AS (
    INSERT INTO bench_counted_keys (user_id, post_id, type, day, first_at)
    SELECT DISTINCT $1::uuid, post_id, type,
           CASE WHEN type = 'impression' THEN ($7::timestamptz AT TIME ZONE 'UTC')::date ELSE DATE '1970-01-01' END,
           $7::timestamptz
    FROM eligible WHERE type IN ('impression', 'share', 'click')
    ORDER BY 2, 3
    ON CONFLICT DO NOTHING
    RETURNING post_id, type
  ),
  counted AS (
    SELECT post_id, type, 0 AS dwell_ms FROM keyed
    UNION ALL
    SELECT post_id, type, dwell_ms FROM eligible WHERE type IN ('view', 'dwell')
  ),
  counters AS (
    INSERT INTO bench_post_counters AS c (post_id, impressions, views, clicks, shares, dwell_ms)
    SELECT post_id,
           count(*) FILTER (WHERE type = 'impression'), count(*) FILTER (WHERE type = 'view'),
           count(*) FILTER (WHERE type = 'click'), count(*) FILTER (WHERE type = 'share'),
           coalesce(sum(dwell_ms) FILTER (WHERE type = 'dwell'), 0)
    FROM counted GROUP BY post_id ORDER BY post_id
    ON CONFLICT (post_id) DO UPDATE SET
      impressions = c.impressions + EXCLUDED.impressions, views = c.views + EXCLUDED.views,
      clicks = c.clicks + EXCLUDED.clicks, shares = c.shares + EXCLUDED.shares,
      dwell_ms = c.dwell_ms + EXCLUDED.dwell_ms
    RETURNING 1
  ),
  interactions AS (
    INSERT INTO bench_user_author_days AS a (user_id, author_id, day, n)
    SELECT $1::uuid, p.author_id, ($7::timestamptz AT TIME ZONE 'UTC')::date, count(*)
    FROM keyed k JOIN posts p ON p.id = k.post_id
    WHERE k.type IN ('share', 'click')
    GROUP BY p.author_id ORDER BY p.author_id
    ON CONFLICT (user_id, author_id, day) DO UPDATE SET n = a.n + EXCLUDED.n
    RETURNING 1
  ),
  seen AS (
    INSERT INTO bench_seen AS s (user_id, post_id, seen_at)
    SELECT DISTINCT $1::uuid, post_id, $7::timestamptz FROM input WHERE type = 'impression'
    ORDER BY 2
    ON CONFLICT (user_id, post_id) DO UPDATE SET seen_at = greatest(s.seen_at, EXCLUDED.seen_at)
    RETURNING 1
  )
SELECT (SELECT count(*) FROM ins)::int AS inserted
