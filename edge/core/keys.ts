/**
 * Redis key names: the contract between the edge (reads), the origin generators (writes) and
 * the relay (stream). Change a name here and both runtimes follow.
 */

/** Top hot posts (JSON list of RankedItem, best first, at most 200). Written every 60 s, TTL 120 s. */
export const HOT_POSTS_KEY = "hot:posts:1h";
export const HOT_POSTS_TTL_S = 120;

/** Suggested users for one user (JSON list of SuggestedUser, up to SUGGESTIONS_PER_USER). Written every 300 s for active users, TTL 600 s. */
export const suggestKey = (userId: string): string => `suggest:users:${userId}`;
export const SUGGEST_TTL_S = 600;

/** One user's ranked candidate list; one entry serves every page. TTL 60 s. */
export const feedKey = (userId: string): string => `feed:v1:${userId}`;
export const FEED_TTL_S = 60;

/**
 * A user's feed version, bumped by every invalidation. A cached ranking is valid only while its
 * recorded version is current, so a ranking built from data read before a change landed can't
 * outlive the invalidation even if its cache write arrives after it. Kept 24 h.
 */
export const feedVersionKey = (userId: string): string => `feed:v1:${userId}:ver`;
export const FEED_VERSION_TTL_S = 24 * 3600;

/**
 * The same ranking kept longer (24 h): the degraded answer when ClickHouse is down, and the
 * record of what a paging session already served after the fresh copy expired.
 */
export const lastFeedKey = (userId: string): string => `feed:v1:${userId}:last`;
export const LAST_FEED_TTL_S = 24 * 3600;

/** Leader lock of a periodic origin job (one origin runs each job per interval). */
export const jobLockKey = (job: string): string => `lock:job:${job}`;

/** Posts a user has seen (sorted set: post id → epoch ms), kept 7 days. */
export const seenKey = (userId: string): string => `seen:${userId}`;
export const SEEN_TTL_S = 7 * 24 * 3600;

/** The edge's event stream, consumed by the origin relay's consumer group. */
export const EVENTS_STREAM_KEY = "events:ingest";

/**
 * Prefix of the edge's per-user event-intake rate limiter (@upstash/ratelimit keeps its
 * windows under `<prefix>:<user id>:…`).
 */
export const EVENTS_RATE_LIMIT_PREFIX = "rl:events";
