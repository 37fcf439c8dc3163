/**
 * ClickHouse's derived data against the counting rules applied to its sources (the CDC
 * mirrors, which `checkConsistency` holds equal to PostgreSQL, and the event log):
 * - every event of a known post carries that post's author (not the zero UUID);
 * - `counted`: never an event on one's own post, never one whose post is unknown; exactly one
 *   counted share and one click per (user, post), one impression per (user, post, UTC day);
 *   views and dwell counted whenever the post is known and not one's own;
 * - post_totals per post = the counted events plus the live likes and comments of others;
 * - user_author_90d per (user, author) = the live likes and comments on the author's posts plus
 *   the counted shares and clicks, one's own excluded;
 * - events_pending holds only events whose post is still unknown.
 * Each rule is one query that returns the violating keys (a few listed, all counted). Run it
 * once the pipeline has settled: an event waiting for its post is legitimately pending.
 */
import type { ClickHouseClient } from "@clickhouse/client";

const Z = "toUUID('00000000-0000-0000-0000-000000000000')";

/** The events as they stand, each with its post's author as ClickHouse knows it (NULL when unknown). */
const EVENTS = `(SELECT e.event_id AS event_id, e.user_id AS user_id, e.post_id AS post_id, e.author_id AS author_id,
                        e.type AS type, e.dwell_ms AS dwell_ms, e.counted AS counted, e.received_at AS received_at,
                        p.author_id AS post_author
                 FROM events_raw AS e FINAL
                 LEFT JOIN (SELECT id, any(author_id) AS author_id FROM posts_by_id GROUP BY id) AS p ON p.id = e.post_id
                 SETTINGS join_use_nulls = 1)`;

export const DERIVED_RULES: Record<string, string> = {
  "events_raw.author_id": `SELECT toString(event_id) AS k, concat(toString(author_id), ' should be ', toString(post_author)) AS v
    FROM ${EVENTS} WHERE post_author IS NOT NULL AND author_id != post_author`,
  "events_raw.counted (own post or unknown post)": `SELECT toString(event_id) AS k, toString(type) AS v
    FROM ${EVENTS} WHERE counted = 1 AND (post_author IS NULL OR user_id = post_author)`,
  "events_raw.counted (once per share, click, impression day)": `SELECT
      concat(toString(user_id), '|', toString(post_id), '|', toString(type), '|', toString(d)) AS k,
      concat('counted ', toString(sum(counted)), ' of ', toString(count())) AS v
    FROM (SELECT *, if(type = 'impression', toDate(received_at), toDate(0)) AS d FROM ${EVENTS})
    WHERE type IN ('share', 'click', 'impression') AND post_author IS NOT NULL AND user_id != post_author
    GROUP BY user_id, post_id, type, d HAVING sum(counted) != 1`,
  "events_raw.counted (views and dwell)": `SELECT toString(event_id) AS k, toString(type) AS v
    FROM ${EVENTS} WHERE type IN ('view', 'dwell') AND post_author IS NOT NULL AND user_id != post_author AND counted != 1`,
  post_totals: `SELECT toString(post_id) AS k, concat('clickhouse ', toJSONString(have), ' rules ', toJSONString(want)) AS v
    FROM (
      SELECT post_id, groupArray(s) AS have, groupArray(w) AS want FROM (
        SELECT post_id, col, sum(have) AS s, sum(want) AS w FROM (
          SELECT post_id, c.1 AS col, toInt64(c.2) AS have, toInt64(0) AS want FROM (
            SELECT post_id, arrayJoin([('impressions', impressions), ('views', views), ('clicks', clicks), ('shares', shares),
                                       ('dwell_ms', dwell_ms), ('likes', likes), ('comments', comments)]) AS c
            FROM post_totals)
          UNION ALL
          SELECT post_id, c.1 AS col, toInt64(0) AS have, toInt64(c.2) AS want FROM (
            SELECT post_id, arrayJoin([('impressions', countIf(type = 'impression')), ('views', countIf(type = 'view')),
                                       ('clicks', countIf(type = 'click')), ('shares', countIf(type = 'share')),
                                       ('dwell_ms', toUInt64(sumIf(dwell_ms, type = 'dwell')))]) AS c
            FROM ${EVENTS} WHERE counted = 1 GROUP BY post_id)
          UNION ALL
          SELECT post_id, 'likes' AS col, toInt64(0) AS have, toInt64(count()) AS want
          FROM likes_current WHERE deleted_at IS NULL AND user_id != post_author_id GROUP BY post_id
          UNION ALL
          SELECT post_id, 'comments' AS col, toInt64(0) AS have, toInt64(count()) AS want
          FROM comments_current WHERE deleted_at IS NULL AND author_id != post_author_id GROUP BY post_id
        ) GROUP BY post_id, col HAVING s != w
      ) GROUP BY post_id
    )`,
  user_author_90d: `SELECT concat(toString(u), '|', toString(a)) AS k, concat('clickhouse ', toString(sum(have)), ' rules ', toString(sum(want))) AS v
    FROM (
      SELECT user_id AS u, author_id AS a, sum(interactions) AS have, toInt64(0) AS want
      FROM user_author_90d WHERE day >= today() - 90 GROUP BY u, a
      UNION ALL
      SELECT user_id AS u, post_author_id AS a, toInt64(0) AS have, toInt64(count()) AS want
      FROM likes_current WHERE deleted_at IS NULL AND user_id != post_author_id AND created_at >= today() - 90 GROUP BY u, a
      UNION ALL
      SELECT author_id AS u, post_author_id AS a, toInt64(0) AS have, toInt64(count()) AS want
      FROM comments_current WHERE deleted_at IS NULL AND author_id != post_author_id AND created_at >= today() - 90 GROUP BY u, a
      UNION ALL
      SELECT user_id AS u, assumeNotNull(post_author) AS a, toInt64(0) AS have, toInt64(count()) AS want
      FROM ${EVENTS} WHERE counted = 1 AND type IN ('share', 'click') AND received_at >= today() - 90 GROUP BY u, a
    ) GROUP BY u, a HAVING sum(have) != sum(want)`,
  "events_pending (post known)": `SELECT toString(event_id) AS k, toString(post_id) AS v FROM events_pending FINAL
    WHERE post_id IN (SELECT id FROM posts_by_id)`,
  "events_raw.author_id (unknown post, not pending)": `SELECT toString(event_id) AS k, toString(post_id) AS v
    FROM events_raw FINAL WHERE author_id = ${Z} AND received_at >= now64(3) - INTERVAL 7 DAY
      AND post_id NOT IN (SELECT id FROM posts_by_id)
      AND event_id NOT IN (SELECT event_id FROM events_pending FINAL)`,
};

export interface DerivedReport {
  rule: string;
  violations: number;
  /** Up to `listed` violating keys with what is wrong. */
  examples: { key: string; detail: string }[];
}

/** Runs every rule; a report per rule, violations 0 when it holds. */
export async function checkDerived(ch: ClickHouseClient, listed = 10): Promise<DerivedReport[]> {
  const out: DerivedReport[] = [];
  for (const [rule, sql] of Object.entries(DERIVED_RULES)) {
    const rs = await ch.query({
      query: `SELECT count() OVER () AS total, k, v FROM (${sql}) ORDER BY k LIMIT {n:UInt32}`,
      query_params: { n: listed },
      format: "JSONEachRow",
    });
    const rows = await rs.json<{ total: string | number; k: string; v: string }>();
    out.push({
      rule,
      violations: rows.length ? Number(rows[0]?.total) : 0,
      examples: rows.map((r) => ({ key: r.k, detail: r.v })),
    });
  }
  return out;
}
