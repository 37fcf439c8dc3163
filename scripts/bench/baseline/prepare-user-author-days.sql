-- After a bulk load: counted shares + clicks of a user on an author per UTC day (the event half
-- of the affinity).
INSERT INTO bench_user_author_days (user_id, author_id, day, n)
SELECT k.user_id, p.author_id, (k.first_at AT TIME ZONE 'UTC')::date, count(*)
FROM bench_counted_keys k JOIN posts p ON p.id = k.post_id
WHERE k.type IN ('share', 'click')
GROUP BY 1, 2, 3;
