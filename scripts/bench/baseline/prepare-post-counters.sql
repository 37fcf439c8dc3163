-- After a bulk load: the per-post counters the intake would have kept (counted impressions,
-- clicks and shares from bench_counted_keys; views and dwell of others from bench_events).
INSERT INTO bench_post_counters (post_id, impressions, views, clicks, shares, dwell_ms)
SELECT post_id, sum(impressions), sum(views), sum(clicks), sum(shares), sum(dwell_ms)
FROM (
  SELECT post_id,
         count(*) FILTER (WHERE type = 'impression') AS impressions, 0 AS views,
         count(*) FILTER (WHERE type = 'click') AS clicks,
         count(*) FILTER (WHERE type = 'share') AS shares, 0 AS dwell_ms
  FROM bench_counted_keys GROUP BY post_id
  UNION ALL
  SELECT e.post_id, 0, count(*) FILTER (WHERE e.type = 'view'), 0, 0,
         coalesce(sum(e.dwell_ms) FILTER (WHERE e.type = 'dwell'), 0)
  FROM bench_events e LEFT JOIN posts p ON p.id = e.post_id
  WHERE e.type IN ('view', 'dwell') AND p.author_id IS DISTINCT FROM e.user_id
  GROUP BY e.post_id
) x
GROUP BY post_id;
