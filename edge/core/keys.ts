/**
 * Redis key names: the contract between the edge (reads), the origin generators (writes) and
 * the relay (stream). Change a name here and both runtimes follow.
 */

/** Top hot posts (JSON list of RankedItem, best first, at most 200). Written every 60 s, TTL 120 s. */
export const HOT_POSTS_KEY = "hot:posts:1h";
export const HOT_POSTS_TTL_S = 120;
/**
 * Beside every hot-posts list, the same posts as ids only (JSON `[[postId, authorId], …]`, same
 * TTL): what a feed miss reads (about 15 KB instead of the list's ~80 KB of items with text).
 * Both are replaced in one MULTI, so the ids key is in the list's slot on a Redis Cluster: a key
 * without a hash tag hashes its whole name, so `{hot:posts:1h}:ids` hashes `hot:posts:1h`, the
 * list's slot, while the list keeps the name `hot:posts:1h`. A list key that has a tag already
 * (`x:{t}:y`) keeps it: `x:{t}:y:ids`. (Until this layout the ids were `hot:posts:1h:ids`, another
 * slot; that key just expires, 120 s.)
 */
export const hotPostIdsKey = (hotKey: string): string => (hasHashTag(hotKey) ? `${hotKey}:ids` : `{${hotKey}}:ids`);

/** The hot-posts list of a namespace: HOT_POSTS_KEY itself, or `<ns>{hot:posts:1h}` under one. */
const hotPostsKeyIn = (ns: string): string => (ns ? `${ns}{${HOT_POSTS_KEY}}` : HOT_POSTS_KEY);

/** Whether a key carries a Redis Cluster hash tag: a non-empty `{…}` (the first `{` and the next `}`). */
export function hasHashTag(key: string): boolean {
  const open = key.indexOf("{");
  return open !== -1 && key.indexOf("}", open + 1) > open + 1;
}

/** Suggested users for one user (JSON list of SuggestedUser, up to SUGGESTIONS_PER_USER). Written every 300 s for active users, TTL 600 s. */
export const suggestKey = (userId: string): string => `suggest:users:${userId}`;
export const SUGGEST_TTL_S = 600;

/**
 * A user's feed version, bumped by every invalidation and by the user's own events. A new
 * session reuses the user's newest snapshot only while its recorded version is current (see
 * SNAPSHOT_REUSE_MS), so a change the user made shows in their next session at once. Kept 24 h.
 */
export const feedVersionKey = (userId: string): string => `feed:v1:${userId}:ver`;
export const FEED_VERSION_TTL_S = 24 * 3600;

/** Leader lock of a periodic origin job (one origin runs each job per interval). */
export const jobLockKey = (job: string): string => `lock:job:${job}`;
/**
 * The lease a ClickHouse sink process holds while it settles events that came before their
 * post (origin/src/sink/sink.ts): one per sink group and topic namespace.
 */
export const sinkSettleLeaseKey = (groupId: string, topicNamespace = ""): string =>
  `lock:sink-settle:${topicNamespace}${groupId}`;

/** Posts a user has seen (sorted set: post id → epoch ms), kept 7 days. */
export const seenKey = (userId: string): string => `seen:${userId}`;
export const SEEN_TTL_S = 7 * 24 * 3600;

/** The edge's event stream, consumed by the origin relay's consumer group. */
export const EVENTS_STREAM_KEY = "events:ingest";

/**
 * The serving index (README "Serving index"): the state a feed needs, kept in Redis by the
 * origin's index updater from the same Kafka streams the ClickHouse sink reads. `ns` prefixes
 * every key (INDEX_NAMESPACE; "" in production, unique per test). The values:
 * - `ready`: set (to the bootstrap's finish time) once the index holds everything; absent →
 *   the edge takes the ClickHouse path. Its name carries INDEX_LAYOUT, so an index written in
 *   an older layout is not ready for this code: the origin rebuilds it, the edge meanwhile
 *   answers from ClickHouse.
 * - `authorPosts(a)`: HASH of the author's posts of the last 7 days (at most
 *   INDEX_POSTS_PER_AUTHOR): field `{post}` = "createdMs\ttext" and `{post}:n` =
 *   "likes,comments,shares,impressions,version" (counted shares and impressions; see
 *   encodePostCounters; the version the post hash had when they were copied, absent with the
 *   field for a post the bootstrap wrote with all zeros). Deleted posts leave it.
 * - `post(p)`: HASH of what the updater needs to apply a change exactly once: `a` author,
 *   `t` created ms, `d` deleted, and one field per counted interaction (`l:{user}`,
 *   `c:{comment}` = commenter, `s:{user}`, `k:{user}`), so a redelivered change finds itself and
 *   is a no-op; a share or click that came before its post is "p" (pending) and impressions
 *   that did are `i:{user}` = days, until the post's upsert settles them. The author's own
 *   likes, comments, shares, clicks and impressions count toward nothing. `n` = the post's
 *   counters "likes,comments,shares,impressions,plain likes,plain comments" and `v` their
 *   version (the author hash copies them). `postOutbox(p)`: HASH of the affinity bumps the
 *   post's changes still owe (`q:<version>`), empty between batches.
 * - `followees(u)`, `blocksOut(u)` (whom u blocked), `blocksIn(u)` (who blocked u): SETs.
 * - `affinity(u)`: HASH author → interactions over 90 days (likes, comments, counted shares and
 *   clicks), loaded from ClickHouse and bumped by the updater; `_b` = ms of the last bump.
 * - `impressions(p, day)`: SET of users whose impression of the post counted that UTC day
 *   (2 days TTL). `affinityApplied(u)`: HASH of the owed bumps applied to u, until their
 *   outbox entries go.
 * - `deletedUsers`: SET of deleted user ids; `popularAuthors`: JSON list of the 20 most
 *   followed authors (the cold-start source).
 *
 * What the reads need besides (layout 4; whole history unless said):
 * - `profile(u)`: HASH `h` handle, `n` display name, `b` bio, `c` created ms; absent for a
 *   deleted or unknown user. `handle(h)`: HASH `u` the live user id of a handle (lower-cased),
 *   `v` the version of that claim; `handleReleases(u)`: SET of old handles still to release.
 * - `followers(u)` / `following(u)`: ZSET user → follow created ms (live follows; the counts are
 *   their ZCARD, the lists page them newest first).
 * - `userPosts(a)`: ZSET post → created ms, every live post of the author (the posts count, and
 *   the ids of the author's history; bodies older than the index window come from ClickHouse).
 * - `recentLikes(u)`: ZSET post → like created ms, the user's live likes of the last
 *   RECENT_LIKES_MS (every post the index holds was liked within it, so a miss knows "liked").
 * - `comments(p)`: ZSET comment → created ms, the post's live comments; `commentBodies(p)`:
 *   HASH comment → "commenterId\tcreatedMs\ttext".
 * - in `authorPosts(a)`: `_u` = "handle\tdisplay name" of the author (hydrates a miss with no
 *   extra read) and `{post}:d` = "likes,comments", the post's plain totals (every live like
 *   and comment, the author's own included), absent when both are zero.
 */
export function indexKeys(ns = "") {
  const p = `${ns}fi:`;
  return {
    /** The namespace itself (INDEX_NAMESPACE), for keys named outside this object (experiments). */
    namespace: ns,
    /** What every key of the index below begins with (the bootstrap clears them by it). */
    prefix: p,
    ready: `${p}ready:v${INDEX_LAYOUT}`,
    authorPosts: (authorId: string) => `${p}ap:{${authorId}}`,
    post: (postId: string) => `${p}p:{${postId}}`,
    /** The post's outbox: affinity bumps its changes owe (origin/src/index/scripts.ts). */
    postOutbox: (postId: string) => `${p}pq:{${postId}}`,
    followees: (userId: string) => `${p}fo:${userId}`,
    blocksOut: (userId: string) => `${p}bo:${userId}`,
    blocksIn: (userId: string) => `${p}bi:${userId}`,
    affinity: (userId: string) => `${p}af:{${userId}}`,
    /** The owed affinity bumps already applied to the user, until their outbox entries go. */
    affinityApplied: (userId: string) => `${p}aq:{${userId}}`,
    impressions: (postId: string, day: string) => `${p}im:{${postId}}:${day}`,
    deletedUsers: `${p}du`,
    profile: (userId: string) => `${p}u:{${userId}}`,
    /** Handles the user's renames and deletion left to release ("handle\tversion"). */
    handleReleases: (userId: string) => `${p}hr:{${userId}}`,
    handle: (handle: string) => `${p}hd:${handle.toLowerCase()}`,
    followers: (userId: string) => `${p}fr:${userId}`,
    following: (userId: string) => `${p}fg:${userId}`,
    userPosts: (authorId: string) => `${p}ua:${authorId}`,
    recentLikes: (userId: string) => `${p}lk:${userId}`,
    comments: (postId: string) => `${p}cm:${postId}`,
    commentBodies: (postId: string) => `${p}ct:${postId}`,
    popularAuthors: `${p}popular`,
    /**
     * The hot posts (HOT_POSTS_KEY) and their ids (hotPostIdsKey), one slot. Under a namespace
     * the list's name is its hash tag (`<ns>{hot:posts:1h}`), so both keys still begin with the
     * namespace (`<ns>{hot:posts:1h}:ids`) and go with it.
     */
    hotPosts: hotPostsKeyIn(ns),
    hotPostIds: hotPostIdsKey(hotPostsKeyIn(ns)),
  };
}
export type IndexKeys = ReturnType<typeof indexKeys>;

/**
 * What every key a key function names begins with: `fi:fo:` for `fi:fo:<u>`, `fi:ap:{` for
 * `fi:ap:{<u>}` (a tagged key's prefix ends inside its tag), so `startsWith` tells its keys.
 */
export function keyPrefixOf(key: (id: string, ...rest: string[]) => string): string {
  const k = key("", "");
  const tag = k.indexOf("{}");
  return tag < 0 ? k.replace(/:+$/, ":") : k.slice(0, tag + 1);
}

/**
 * The serving index's layout version (part of the `ready` key). 2: a post's four counters are
 * one field `{post}:n` (layout 1 had one field per counter: 5 fields per post instead of 2).
 * 3: a comment's record holds its commenter (the author's own comments count toward nothing),
 * and shares, clicks and impressions that arrive before their post wait in the post hash
 * (`s:`/`k:` = "p", `i:{user}`) until the post's upsert settles them.
 * 4: what the reads need: profiles and handles, followers and following, every post id of an
 * author, recent likes, comments, and the author's `_u` and plain totals `{post}:d`.
 * 5: one hash tag per script, for a Redis Cluster: the post's keys tagged by the post
 * (`fi:p:{p}`, its outbox `fi:pq:{p}`, its impression sets `fi:im:{p}:<day>`, which were the
 * user's), the user's by the user (`fi:ap:{u}`, `fi:u:{u}`, `fi:af:{u}`, `fi:aq:{u}`,
 * `fi:hr:{u}`); the post hash holds the post's counters `n` and version `v`, `{post}:n` in the
 * author hash carries the version it was copied at; a handle key is a HASH (`u` user, `v` the
 * claim's version).
 */
export const INDEX_LAYOUT = 5;

/** How far back `recentLikes` reaches: the index window and a day (INDEX_POST_TTL_S). */
export const RECENT_LIKES_MS = 8 * 24 * 3600 * 1000;

/** "likes,comments" (a post's plain totals, `{post}:d`), or null when both are zero. */
export function encodePlainTotals(t: { likes: number; comments: number }): string | null {
  if (!t.likes && !t.comments) return null;
  return `${t.likes},${t.comments}`;
}

/** The inverse of encodePlainTotals; a missing or malformed value is zeros. */
export function decodePlainTotals(v: string | null | undefined): { likes: number; comments: number } {
  const [l, c] = (v ?? "").split(",").map(Number);
  const ok = (x: number | undefined) => (x !== undefined && Number.isFinite(x) && x > 0 ? x : 0);
  return { likes: ok(l), comments: ok(c) };
}

/** The author's `_u` field: "handle\tdisplay name". */
export function encodeAuthorCard(handle: string, displayName: string): string {
  return `${handle}\t${displayName}`;
}

export function decodeAuthorCard(v: string | null | undefined): { handle: string; displayName: string } | null {
  if (!v) return null;
  const i = v.indexOf("\t");
  return i < 0 ? { handle: v, displayName: "" } : { handle: v.slice(0, i), displayName: v.slice(i + 1) };
}

/** A post's counters as the author hash holds them (`{post}:n`). */
export interface PostCounters {
  likes: number;
  comments: number;
  shares: number;
  impressions: number;
}

/** "likes,comments,shares,impressions", or null when all are zero (the field is then absent). */
export function encodePostCounters(c: PostCounters): string | null {
  if (!c.likes && !c.comments && !c.shares && !c.impressions) return null;
  return `${c.likes},${c.comments},${c.shares},${c.impressions}`;
}

/** The inverse of encodePostCounters; a missing or malformed value counts as zeros. */
export function decodePostCounters(v: string | null | undefined): PostCounters {
  const n = (v ?? "").split(",").map(Number);
  const at = (i: number) => (Number.isFinite(n[i]) && (n[i] as number) > 0 ? (n[i] as number) : 0);
  return { likes: at(0), comments: at(1), shares: at(2), impressions: at(3) };
}

/** Posts kept per author (newest first); more than the F1 and F3 sources read of one author. */
export const INDEX_POSTS_PER_AUTHOR = 200;
/** How long a post stays in the index after it was created: the longest source window (F3). */
export const INDEX_POST_WINDOW_MS = 7 * 24 * 3600 * 1000;
/** A post's keys outlive the window by a day, so late changes still find their post. */
export const INDEX_POST_TTL_S = 8 * 24 * 3600;
export const INDEX_IMPRESSIONS_TTL_S = 2 * 24 * 3600;
/** An affinity refresh from ClickHouse skips a user bumped this recently (the two pipelines' lag). */
export const AFFINITY_REFRESH_QUIET_MS = 30_000;

/**
 * Feed snapshots (README "Paging"): a built ranking, immutable under its ranking id. A LIST:
 * element 0 is the metadata (JSON SnapshotMeta), then one JSON item per ranked post, so a page
 * is one LRANGE. Kept SNAPSHOT_TTL_S after it was built and SNAPSHOT_PAGING_TTL_S after its
 * last page read.
 *
 * Named by its viewer and ranking id, the viewer as hash tag: the save writes the snapshot and
 * the viewer's pointer in one MULTI, so both are in the viewer's slot on a Redis Cluster. A page
 * read names it from the authenticated viewer and the cursor's ranking id, so a cursor of
 * another user names a key of this user's, where their snapshot is not. (Until this layout the
 * names were `feed:v2:snap:<rankingId>` and `feed:v2:<user>`; nothing reads those any more, they
 * expire within SNAPSHOT_PAGING_TTL_S. A cursor issued before the change finds no snapshot under
 * the new name: the client's 400 says to start again without a cursor.)
 */
export const snapshotKey = (viewerId: string, rankingId: string): string => `feed:v2:{${viewerId}}:snap:${rankingId}`;
export const SNAPSHOT_TTL_S = 5 * 60;
export const SNAPSHOT_PAGING_TTL_S = 30 * 60;
/** The viewer's newest snapshot (JSON SnapshotPointer): what a new session may start from. Same slot as snapshotKey. */
export const snapshotPointerKey = (userId: string): string => `feed:v2:{${userId}}`;

/**
 * A signed edge → origin request already served: the origin's replay protection. Kept for the
 * whole ±60 s signature window (MAX_SIGNATURE_SKEW_MS), so a replay within it finds the key.
 */
export const originRequestKey = (requestId: string): string => `origin:req:${requestId}`;
export const ORIGIN_REQUEST_TTL_S = 120;

/**
 * Notifications (edge/core/notifications): what the origin's notifications part keeps from
 * cdc.likes, cdc.comments, cdc.follows and cdc.posts (deletions), and what GET /api/v1/notifications reads. `ns` is the
 * index's namespace (INDEX_NAMESPACE). Every key of one user carries the user id as its hash tag
 * (`{u}`), so each script touches one slot (a Redis Cluster runs it as one node does). A group id
 * `gid` is `l:{post}:{day}` (likes of a post that UTC day), `c:{post}:{day}` (comments) or
 * `f:{day}` (new followers); see edge/core/notifications/groups.ts.
 * - `groups(u)`: ZSET gid → the group's latest_at (ms of its newest actor's action), newest first;
 *   at most NOTIFICATION_GROUPS_MAX, none older than NOTIFICATION_TTL_S (trimmed on write).
 * - `summaries(u)`: HASH gid → "count|actor,ms,actor,ms…": the group's distinct actors and its
 *   NOTIFICATION_ACTORS_KEPT newest (what a page read needs, beside `groups(u)` in one script).
 * - `actors(u, gid)`: ZSET actor → ms of the actor's newest live action in the group. The truth a
 *   summary is made from: adding a member twice or removing an absent one changes nothing.
 * - `comments(u, gid)`: HASH comment id → "actor\tms", the live comments of a comment group (an
 *   actor leaves the group with their last comment).
 * - `seen(u)`: STRING, the user's seen mark (ms; only ever raised). A group is unread while its
 *   latest_at is after it.
 * - `deletedPosts(u)`: ZSET post → ms its deletion was applied: u's deleted posts, whose groups
 *   are gone and which no later-arriving like or comment brings back.
 * Each key lives NOTIFICATION_TTL_S after its last write.
 */
export function notificationKeys(ns = "") {
  const p = `${ns}nt:`;
  const user = (u: string) => `${p}{${u}}`;
  return {
    /** What every notifications key begins with. */
    prefix: p,
    groups: (userId: string) => `${user(userId)}:g`,
    summaries: (userId: string) => `${user(userId)}:s`,
    actors: (userId: string, gid: string) => `${user(userId)}:a:${gid}`,
    comments: (userId: string, gid: string) => `${user(userId)}:c:${gid}`,
    seen: (userId: string) => `${user(userId)}:seen`,
    deletedPosts: (userId: string) => `${user(userId)}:dp`,
  };
}
export type NotificationKeys = ReturnType<typeof notificationKeys>;

/** How long notifications are kept: 30 days (an older action notifies no one). */
export const NOTIFICATION_TTL_S = 30 * 24 * 3600;
/** Groups kept per user (the oldest go first). */
export const NOTIFICATION_GROUPS_MAX = 200;
/** Actors of a group its summary names, newest first (a page shows up to 3 of those visible). */
export const NOTIFICATION_ACTORS_KEPT = 10;
