/**
 * What a batch of changes makes stale once it is visible in ClickHouse (the plan that invalidates
 * it is #core/feed/invalidation.ts). The write API already invalidates at commit time, but a
 * feed read in the ~100 ms before the change reaches ClickHouse would rank the old state again;
 * invalidating once more when the sink has inserted the change closes that window.
 */
import type { Stale } from "#core/feed/invalidation.ts";
import type { CdcTable } from "#core/topics.ts";
import type { ChRow } from "./transform.ts";

/** The users whose feeds and suggestions the changes `rows` of `table` made stale. */
export function staleBy(table: CdcTable, rows: readonly ChRow[]): { feeds: Set<string>; suggestions: Set<string> } {
  const feeds = new Set<string>();
  const suggestions = new Set<string>();
  for (const row of rows) {
    const id = (col: string) => String(row[col]);
    switch (table) {
      case "likes":
        feeds.add(id("user_id"));
        break;
      case "comments":
        feeds.add(id("author_id"));
        break;
      case "follows":
        feeds.add(id("follower_id"));
        suggestions.add(id("follower_id"));
        break;
      case "blocks":
        feeds.add(id("blocker_id")).add(id("blocked_id"));
        suggestions.add(id("blocker_id"));
        break;
      default:
        break;
    }
  }
  return { feeds, suggestions } satisfies Stale;
}
