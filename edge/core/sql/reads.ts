/**
 * The read side's long history on ClickHouse (posts older than the serving index's window):
 * posts by id with their plain totals and whether the viewer liked them, and an author's posts
 * by time. Point and prefix reads on the tables' ordering keys (posts_by_id by id, likes_cdc and
 * comments_cdc by post, posts_cdc by author and time); FINAL resolves every change to its last
 * version. Values are bound as query parameters.
 */

/** Posts by id: body, author, deleted, plain likes and comments, counted shares, the viewer's like. */
export const POSTS_BY_IDS_SQL = `
SELECT
  toString(p.id) AS post_id,
  toString(p.author_id) AS author_id,
  p.text AS text,
  toUnixTimestamp64Milli(p.created_at) AS created_at_ms,
  isNotNull(p.deleted_at) AS deleted,
  ifNull(l.n, 0) AS likes,
  ifNull(c.n, 0) AS comments,
  ifNull(s.n, 0) AS shares,
  ifNull(v.liked, 0) AS liked
FROM (SELECT id, author_id, text, created_at, deleted_at FROM posts_by_id FINAL WHERE id IN {ids:Array(UUID)}) AS p
LEFT JOIN (
  SELECT post_id, count() AS n FROM likes_cdc FINAL
  WHERE post_id IN {ids:Array(UUID)} AND deleted_at IS NULL GROUP BY post_id
) AS l ON l.post_id = p.id
LEFT JOIN (
  SELECT post_id, count() AS n FROM comments_cdc FINAL
  WHERE post_id IN {ids:Array(UUID)} AND deleted_at IS NULL GROUP BY post_id
) AS c ON c.post_id = p.id
LEFT JOIN (
  SELECT post_id, sum(shares) AS n FROM post_totals WHERE post_id IN {ids:Array(UUID)} GROUP BY post_id
) AS s ON s.post_id = p.id
LEFT JOIN (
  SELECT post_id, 1 AS liked FROM likes_cdc FINAL
  WHERE post_id IN {ids:Array(UUID)} AND user_id = {viewer:UUID} AND deleted_at IS NULL
) AS v ON v.post_id = p.id
SETTINGS join_use_nulls = 1`;
