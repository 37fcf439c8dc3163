/**
 * Which cached answers a change makes stale once it is visible in ClickHouse. The write API
 * already invalidates at commit time, but a feed read in the ~100 ms before the change reaches
 * ClickHouse would cache the old ranking again for a minute; invalidating once more when the
 * sink has inserted the change closes that window.
 */
import { type CdcTable, feedKey, suggestKey } from "../../../edge/core/index.ts";
import type { ChRow } from "./transform.ts";

export function staleKeys(table: CdcTable, row: ChRow): string[] {
  const id = (col: string) => String(row[col]);
  switch (table) {
    case "likes":
      return [feedKey(id("user_id"))];
    case "comments":
      return [feedKey(id("author_id"))];
    case "follows":
      return [feedKey(id("follower_id")), suggestKey(id("follower_id"))];
    case "blocks":
      return [feedKey(id("blocker_id")), feedKey(id("blocked_id")), suggestKey(id("blocker_id"))];
    default:
      return [];
  }
}
