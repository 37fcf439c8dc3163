/**
 * Which events count toward engagement and affinity (the abuse bound of the ranking):
 * per (user, post) at most one share and one click, at most one impression per UTC day, and
 * never a user's events on their own posts. Views and dwell are recorded but bounded only by
 * the own-post rule (the formula does not read them).
 *
 * Shared by the ClickHouse sink (which stamps `events_raw.counted`) and anything else that
 * counts events, so both count the same way. Pure.
 */
import type { EventType } from "./schema.ts";

export interface CountableEvent {
  user_id: string;
  post_id: string;
  type: EventType;
  /** Receive time, epoch ms. */
  received_at_ms: number;
}

/** The day bucket of a once-ever type: ClickHouse's `toDate(0)`. */
export const ONCE_EVER_DAY = "1970-01-01";

/**
 * The key under which an event counts at most once: `user|post|type|day` (the same text
 * ClickHouse prints for `event_counted_keys`), or null for a type that is not bounded.
 */
export function countedKey(e: CountableEvent): string | null {
  if (e.type === "share" || e.type === "click") return `${e.user_id}|${e.post_id}|${e.type}|${ONCE_EVER_DAY}`;
  if (e.type === "impression") {
    const day = new Date(e.received_at_ms).toISOString().slice(0, 10);
    return `${e.user_id}|${e.post_id}|impression|${day}`;
  }
  return null;
}

/**
 * Decides, in order, whether each event counts. `authorOf(post)` is the post's author when
 * known; `alreadyCounted` holds the keys that counted before this batch and is extended with
 * the ones this batch counts. Returns one flag per event.
 */
export function decideCounted(
  events: readonly CountableEvent[],
  authorOf: (postId: string) => string | undefined,
  alreadyCounted: Set<string>,
): boolean[] {
  return events.map((e) => {
    if (authorOf(e.post_id) === e.user_id) return false;
    const key = countedKey(e);
    if (key === null) return true;
    if (alreadyCounted.has(key)) return false;
    alreadyCounted.add(key);
    return true;
  });
}
