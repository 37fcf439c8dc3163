-- After a bulk load: what already counted, from bench_events, by the intake's rule (the first
-- share / click per (user, post), the first impression per (user, post, UTC day), never on
-- one's own post).
INSERT INTO bench_counted_keys (user_id, post_id, type, day, first_at)
SELECT e.user_id, e.post_id, e.type,
       CASE WHEN e.type = 'impression' THEN (e.received_at AT TIME ZONE 'UTC')::date ELSE DATE '1970-01-01' END AS day,
       min(e.received_at)
FROM bench_events e LEFT JOIN posts p ON p.id = e.post_id
WHERE e.type IN ('impression', 'share', 'click') AND p.author_id IS DISTINCT FROM e.user_id
GROUP BY 1, 2, 3, 4;
