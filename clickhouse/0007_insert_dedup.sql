-- An insert lands in its table and in each materialized view one after the other, not
-- atomically: a server that dies in between keeps the row and loses what the views count (the
-- fault matrix saw it: a share in events_raw with counted = 1, missing from post_totals and
-- user_author_90d). The sink retried from scratch, found the row present and skipped it, so the
-- views never got it.
--
-- Now every sink insert carries an `insert_deduplication_token` it keeps until the insert
-- lands, is retried with the same rows and token, and sets
-- `deduplicate_blocks_in_dependent_materialized_views = 1`: the table recognises the repeat and
-- keeps one copy, and each view checks the repeat against its own log and inserts only what it
-- missed. For that, every table the sink inserts into that has views, and every view's target,
-- keeps a deduplication log of its last 10,000 blocks. A token-less insert into these tables is
-- deduplicated by content (an identical block is taken for a repeat): pass `insert_deduplicate
-- = 0` to insert the same block twice on purpose. Replicated tables (clickhouse/cluster) keep
-- such a log by default.

ALTER TABLE events_raw MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE posts_cdc MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE likes_cdc MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE comments_cdc MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE follows_cdc MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE posts_by_id MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE post_metrics_1h MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE post_totals MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE user_author_90d MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE author_stats MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE event_counted_keys MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE experiment_daily MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE experiment_exposures MODIFY SETTING non_replicated_deduplication_window = 10000;
