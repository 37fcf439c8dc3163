/**
 * Writing notifications, pure: the script that applies one change to its recipient's groups,
 * and its keys and arguments. The origin's notifications part runs it (EVALSHA on ioredis) for
 * every like, comment and follow change that notifies someone (groups.ts `notifies`).
 *
 * Exactly once in effect: the change sets the actor's (or the comment's) presence in its group
 * to what the change says, and the group's summary and latest_at are recomputed from that, so a
 * redelivered or replayed change, applied in order, ends where its first delivery did; times are
 * the actions' own, never the time of arrival, so a replay never makes anything unread again.
 */
import {
  NOTIFICATION_ACTORS_KEPT,
  NOTIFICATION_GROUPS_MAX,
  NOTIFICATION_TTL_S,
  type NotificationKeys,
} from "../keys.ts";
import { groupOf, type NotificationChange } from "./groups.ts";

/**
 * KEYS: groups(u), summaries(u), actors(u, gid), comments(u, gid), deletedPosts(u) (one slot:
 * the user's tag). A like or comment (or its take-back) on a post in deletedPosts(u) changes
 * nothing: it arrived after its post's deletion (another topic), and the post's groups are gone
 * for good (their actors and comments keys too, once the cleanup after POST_GONE_LUA ran).
 * ARGV: gid, actor, comment id ('' for a like or follow), created ms, live ('1'/'0'), now ms,
 * TTL s, groups kept, actors kept in a summary.
 * Returns the ids of the groups it trimmed (their actors and comments keys are the caller's to
 * remove: CLEANUP_LUA), so the script touches only the keys it is given.
 */
export const NOTIFY_LUA = `local groups, sums, acts, items = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local gid, actor, item = ARGV[1], ARGV[2], ARGV[3]
local ms, live = tonumber(ARGV[4]), ARGV[5] == '1'
local now, ttl, maxg, kept = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local oldest = now - ttl * 1000
if ARGV[10] ~= '' and redis.call('ZSCORE', KEYS[5], ARGV[10]) then return {} end
if item == '' then
  if live then
    if ms >= oldest then redis.call('ZADD', acts, ARGV[4], actor) end
  else
    redis.call('ZREM', acts, actor)
  end
elseif live then
  if ms >= oldest then
    redis.call('HSET', items, item, actor .. '\\t' .. ARGV[4])
    local cur = redis.call('ZSCORE', acts, actor)
    if (not cur) or tonumber(cur) < ms then redis.call('ZADD', acts, ARGV[4], actor) end
  end
elseif redis.call('HDEL', items, item) == 1 then
  -- the actor stays while another comment of theirs does, at that comment's time
  local best
  for _, v in ipairs(redis.call('HVALS', items)) do
    local tab = string.find(v, '\\t', 1, true)
    if tab and string.sub(v, 1, tab - 1) == actor then
      local m = tonumber(string.sub(v, tab + 1))
      if m and ((not best) or m > best) then best = m end
    end
  end
  if best then redis.call('ZADD', acts, best, actor) else redis.call('ZREM', acts, actor) end
end
local n = redis.call('ZCARD', acts)
if n == 0 then
  redis.call('ZREM', groups, gid)
  redis.call('HDEL', sums, gid)
  redis.call('DEL', acts, items)
else
  local top = redis.call('ZRANGE', acts, 0, kept - 1, 'REV', 'WITHSCORES')
  redis.call('ZADD', groups, top[2], gid)
  redis.call('HSET', sums, gid, n .. '|' .. table.concat(top, ','))
  redis.call('EXPIRE', acts, ttl)
  redis.call('EXPIRE', items, ttl)
end
local gone = redis.call('ZRANGE', groups, '-inf', '(' .. oldest, 'BYSCORE')
local extra = redis.call('ZCARD', groups) - #gone - maxg
if extra > 0 then
  for _, g in ipairs(redis.call('ZRANGE', groups, #gone, #gone + extra - 1)) do gone[#gone + 1] = g end
end
for _, g in ipairs(gone) do
  redis.call('ZREM', groups, g)
  redis.call('HDEL', sums, g)
end
redis.call('EXPIRE', groups, ttl)
redis.call('EXPIRE', sums, ttl)
return gone`;

/**
 * KEYS: groups(u), actors(u, gid), comments(u, gid); ARGV: gid. Removes a trimmed group's keys
 * unless the group came back meanwhile (a later change of it).
 */
export const CLEANUP_LUA = `if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
return redis.call('DEL', KEYS[2], KEYS[3])`;

/**
 * KEYS: groups(u), summaries(u), deletedPosts(u); ARGV: post, now ms, TTL s. A post of u's was
 * deleted: notes it (so a like or comment that arrives later adds nothing) and removes its like
 * and comment groups, whatever their days. Returns their ids (their actors and comments keys
 * are the caller's to remove: CLEANUP_LUA). Applying it again changes nothing.
 */
export const POST_GONE_LUA = `local groups, sums, dp = KEYS[1], KEYS[2], KEYS[3]
local post, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if not redis.call('ZSCORE', dp, post) then redis.call('ZADD', dp, now, post) end
redis.call('ZREMRANGEBYSCORE', dp, '-inf', '(' .. (tonumber(now) - ttl * 1000))
redis.call('EXPIRE', dp, ttl)
local gone = {}
for _, g in ipairs(redis.call('ZRANGE', groups, 0, -1)) do
  local k = string.sub(g, 1, 2)
  if (k == 'l:' or k == 'c:') and string.sub(g, 3, 2 + #post) == post then gone[#gone + 1] = g end
end
for _, g in ipairs(gone) do
  redis.call('ZREM', groups, g)
  redis.call('HDEL', sums, g)
end
return gone`;

/** A script call: its keys and arguments (EVALSHA or EVAL). */
export interface ScriptCall {
  keys: string[];
  args: string[];
}

/** NOTIFY_LUA's call for one change (one that notifies someone: groups.ts `notifies`). */
export function notifyCall(keys: NotificationKeys, c: NotificationChange, nowMs: number): ScriptCall {
  const gid = groupOf(c);
  const u = c.recipient;
  return {
    keys: [keys.groups(u), keys.summaries(u), keys.actors(u, gid), keys.comments(u, gid), keys.deletedPosts(u)],
    args: [
      gid,
      c.actorId,
      c.itemId ?? "",
      String(c.createdMs),
      c.live ? "1" : "0",
      String(nowMs),
      String(NOTIFICATION_TTL_S),
      String(NOTIFICATION_GROUPS_MAX),
      String(NOTIFICATION_ACTORS_KEPT),
      // Any change of a deleted post's like or comment changes nothing (its group is gone).
      c.postId ?? "",
    ],
  };
}

/** A deletion of `recipient`'s post `postId`, as the notifications part applies it. */
export interface PostGone {
  kind: "post-gone";
  recipient: string;
  postId: string;
}

/** POST_GONE_LUA's call for a deleted post. */
export function postGoneCall(keys: NotificationKeys, g: PostGone, nowMs: number): ScriptCall {
  return {
    keys: [keys.groups(g.recipient), keys.summaries(g.recipient), keys.deletedPosts(g.recipient)],
    args: [g.postId, String(nowMs), String(NOTIFICATION_TTL_S)],
  };
}

/** CLEANUP_LUA's call for a group NOTIFY_LUA trimmed from `recipient`'s groups. */
export function cleanupCall(keys: NotificationKeys, recipient: string, gid: string): ScriptCall {
  return {
    keys: [keys.groups(recipient), keys.actors(recipient, gid), keys.comments(recipient, gid)],
    args: [gid],
  };
}
