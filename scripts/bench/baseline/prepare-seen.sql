-- After a bulk load, when asked (PrepareOptions.seenFromEvents): every impression marks its post seen.
INSERT INTO bench_seen (user_id, post_id, seen_at)
SELECT user_id, post_id, max(received_at) FROM bench_events WHERE type = 'impression' GROUP BY 1, 2;
