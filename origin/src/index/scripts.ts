/**
 * The serving index's write scripts (Lua, run by Redis atomically). Each applies one change
 * and is idempotent: a change records itself in the post's hash (`l:{user}`, `c:{comment}`,
 * `s:{user}`, `k:{user}`), the viewer's impressions set or the user's profile (`_v`, the
 * version of the change it holds), and a counter or an affinity moves only when that record
 * changes. So a redelivered batch, or a replay from any earlier offset in order, leaves every
 * counter as it was. Layout: edge/core/keys.ts (indexKeys).
 *
 * Keys a script touches without declaring them in KEYS (standalone Redis and Upstash allow it;
 * on a Redis Cluster each needs a hash tag or a split into a second script with its own record):
 * - EVENT_LUA finds the author hash of an event's post through the post hash (`a`);
 * - UPSERT_POST_LUA bumps the affinity of users whose shares or clicks arrived before the post;
 * - USER_LUA reads and writes the handle keys of a user's old handle (known from the profile)
 *   and reads the profile of a handle's other claimant.
 * Everything else a script touches is in its KEYS: the post hash, the author hash and the
 * author's profile (UPSERT_POST_LUA), the post hash, the author hash and the actor's affinity
 * (INTERACTION_LUA), the profile, the author hash, the deleted-users set and the new handle's key
 * (USER_LUA). The writer's plain commands beside them (followers, following, an author's post
 * ids, recent likes, comments) each touch one key.
 *
 * A post's four ranking counters are one author-hash field `{post}:n` = "likes,comments,shares,
 * impressions" (edge/core/keys.ts encodePostCounters), absent when all are zero, and its plain
 * totals `{post}:d` = "likes,comments" (encodePlainTotals: every live like and comment, the
 * author's own included), absent when both are zero. COUNTERS_LUA below is the Lua side of both
 * codecs, prepended to the scripts that move a counter. The author hash's `_u` (encodeAuthorCard)
 * is the author's "handle\tdisplay name", present while the hash holds a post and the author's
 * profile exists; a field beginning with `_` is never a post.
 */

/**
 * `write_counters(ak, pid, n)` and `bump_counter(ak, pid, slot, delta)`; slot 1 likes,
 * 2 comments, 3 shares, 4 impressions. `write_plain(ak, pid, likes, comments)` and
 * `bump_plain(ak, pid, slot, delta)` (slot 1 likes, 2 comments) for the plain totals. A counter
 * never goes below zero, and a field whose counters are all zero leaves the hash (as
 * encodePostCounters and encodePlainTotals return null). `is_post_field(f)`: `{post}` itself.
 */
const COUNTERS_LUA = `
local function read_counters(ak, pid)
  local n = { 0, 0, 0, 0 }
  local v = redis.call('HGET', ak, pid .. ':n')
  if v then
    local i = 1
    for x in string.gmatch(v, '[^,]+') do n[i] = tonumber(x) or 0; i = i + 1 end
  end
  return n
end
local function write_counters(ak, pid, n)
  for i = 1, 4 do if n[i] < 0 then n[i] = 0 end end
  if n[1] == 0 and n[2] == 0 and n[3] == 0 and n[4] == 0 then
    redis.call('HDEL', ak, pid .. ':n')
  else
    redis.call('HSET', ak, pid .. ':n', n[1] .. ',' .. n[2] .. ',' .. n[3] .. ',' .. n[4])
  end
end
local function bump_counter(ak, pid, slot, delta)
  local n = read_counters(ak, pid)
  n[slot] = n[slot] + delta
  write_counters(ak, pid, n)
end
local function write_plain(ak, pid, l, c)
  if l < 0 then l = 0 end
  if c < 0 then c = 0 end
  if l == 0 and c == 0 then
    redis.call('HDEL', ak, pid .. ':d')
  else
    redis.call('HSET', ak, pid .. ':d', l .. ',' .. c)
  end
end
local function bump_plain(ak, pid, slot, delta)
  local n = { 0, 0 }
  local v = redis.call('HGET', ak, pid .. ':d')
  if v then
    local i = 1
    for x in string.gmatch(v, '[^,]+') do n[i] = tonumber(x) or 0; i = i + 1 end
  end
  n[slot] = n[slot] + delta
  write_plain(ak, pid, n[1], n[2])
end
local function is_post_field(f)
  return not string.find(f, ':', 1, true) and string.sub(f, 1, 1) ~= '_'
end
`;

/**
 * Settles what arrived before its post (KEYS[1] is the post hash; `author` its author): each
 * share or click recorded as pending (`s:{user}` / `k:{user}` = "p") becomes an interaction with
 * the author (the user's affinity, unless it is the author's own, whose record then goes), and
 * the pending impressions (`i:{user}` = days counted) are returned for the impression counter,
 * the author's own left out. Runs once per record: a settled record is "1".
 */
const SETTLE_LUA = `
local function settle(pk, author, afprefix, now)
  local imp = 0
  local fields = redis.call('HGETALL', pk)
  for i = 1, #fields, 2 do
    local f, v = fields[i], fields[i + 1]
    local kind, who = string.sub(f, 1, 2), string.sub(f, 3)
    if (kind == 's:' or kind == 'k:') and v == 'p' then
      if who == author then
        redis.call('HDEL', pk, f)
      else
        redis.call('HSET', pk, f, '1')
        local af = afprefix .. who
        redis.call('HINCRBY', af, author, 1)
        redis.call('HSET', af, '_b', now)
      end
    elseif kind == 'i:' then
      if who ~= author then imp = imp + (tonumber(v) or 0) end
      redis.call('HDEL', pk, f)
    end
  end
  return imp
end
`;

/**
 * A post appears, changes or disappears.
 * KEYS: post hash, author hash, the author's profile. ARGV: post id, author id, created ms, text,
 * live (1/0), now ms, post ttl s, window ms, posts per author, affinity-hash key prefix.
 * First settles what arrived before the post (SETTLE_LUA). A live post of the window gets its
 * base field, counters and plain totals recomputed from the post hash's records (so likes or
 * shares that arrived before the post count), the author's own likes, comments and shares left
 * out of the counters (not of the plain totals); its impressions counter gains the pending
 * impressions; the author hash's `_u` follows the profile. A post that leaves takes its fields
 * with it, and the whole author hash (its `_u`) when it was the last.
 */
export const UPSERT_POST_LUA = `${COUNTERS_LUA}${SETTLE_LUA}
local pk, ak, uk = KEYS[1], KEYS[2], KEYS[3]
local pid, author, created, text = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local live, now, ttl, window, cap = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local afprefix = ARGV[10]
local expire_at = math.floor(created / 1000) + ttl
local function drop_if_empty()
  for _, f in ipairs(redis.call('HKEYS', ak)) do
    if is_post_field(f) then return end
  end
  redis.call('DEL', ak)
end
-- The author first, so an event arriving from now on finds it; then what came before.
redis.call('HSET', pk, 'a', author, 't', created)
local pending_imp = settle(pk, author, afprefix, ARGV[6])
if not live then
  redis.call('HSET', pk, 'd', '1')
  redis.call('EXPIREAT', pk, expire_at)
  if redis.call('HDEL', ak, pid, pid .. ':n', pid .. ':d') > 0 then drop_if_empty() end
  return 0
end
if created < now - window then
  redis.call('EXPIREAT', pk, expire_at)
  return 0
end
redis.call('HDEL', pk, 'd')
redis.call('EXPIREAT', pk, expire_at)
local l, c, s, pl, pc = 0, 0, 0, 0, 0
local fields = redis.call('HGETALL', pk)
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  local kind, who = string.sub(f, 1, 2), string.sub(f, 3)
  if kind == 'l:' then
    pl = pl + 1
    if who ~= author then l = l + 1 end
  elseif kind == 'c:' then
    pc = pc + 1
    if v ~= author then c = c + 1 end
  elseif kind == 's:' and who ~= author then s = s + 1 end
end
redis.call('HSET', ak, pid, created .. '\\t' .. text)
local n = read_counters(ak, pid)
n[1], n[2], n[3] = l, c, s
n[4] = n[4] + pending_imp
write_counters(ak, pid, n)
write_plain(ak, pid, pl, pc)
local card = redis.call('HMGET', uk, 'h', 'n')
if card[1] then
  redis.call('HSET', ak, '_u', card[1] .. '\\t' .. (card[2] or ''))
else
  redis.call('HDEL', ak, '_u')
end
if redis.call('EXPIRETIME', ak) < expire_at then redis.call('EXPIREAT', ak, expire_at) end
-- Keep the newest posts of the window, at most cap.
local afields = redis.call('HGETALL', ak)
local posts = {}
for i = 1, #afields, 2 do
  local f = afields[i]
  if is_post_field(f) then
    local t = tonumber(string.match(afields[i + 1], '^(%d+)')) or 0
    table.insert(posts, { f, t })
  end
end
if #posts > 0 then
  table.sort(posts, function(x, y) if x[2] == y[2] then return x[1] > y[1] end return x[2] > y[2] end)
  for i, p in ipairs(posts) do
    if i > cap or p[2] < now - window then
      redis.call('HDEL', ak, p[1], p[1] .. ':n', p[1] .. ':d')
    end
  end
end
return 1
`;

/**
 * A like or a comment appears (live 1) or goes (live 0).
 * KEYS: post hash, the post author's hash, the actor's affinity hash. ARGV: record field
 * (`l:{user}` or `c:{comment}`), counter kind (l or c), post id, actor id, post author id,
 * live, now ms, post ttl s.
 * The record's value is the actor, so the author's own comment is known as such later. The
 * plain totals (`{post}:d`) move with every record that appears or goes, the author's own
 * included; the author's own like or comment counts toward nothing in ranking (neither the
 * post's counter nor any affinity). Before its post is in the author hash (it arrived first, or
 * the post is deleted or out of the window), only the record moves: the post's upsert counts it.
 */
export const INTERACTION_LUA = `${COUNTERS_LUA}
local pk, ak, af = KEYS[1], KEYS[2], KEYS[3]
local field, kind, pid, actor, author = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local live, now, ttl = ARGV[6] == '1', ARGV[7], tonumber(ARGV[8])
local changed
if live then changed = redis.call('HSETNX', pk, field, actor) else changed = redis.call('HDEL', pk, field) end
if changed == 0 then return 0 end
if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
local delta = live and 1 or -1
local slot = kind == 'l' and 1 or 2
-- A count that reaches zero leaves its hash, as if it had never been.
local shown = redis.call('HGET', pk, 'd') ~= '1' and redis.call('HEXISTS', ak, pid) == 1
if shown then bump_plain(ak, pid, slot, delta) end
if actor == author then return 0 end
if shown then bump_counter(ak, pid, slot, delta) end
if redis.call('HINCRBY', af, author, delta) <= 0 then redis.call('HDEL', af, author) end
redis.call('HSET', af, '_b', now)
return delta
`;

/**
 * An event. KEYS: post hash, the user's affinity hash, the user's impressions set of the day.
 * ARGV: post id, user id, type, now ms, post ttl s, impressions ttl s, author-hash key prefix.
 * A share or click counts once per (user, post), an impression once per (user, post, day),
 * never on the user's own post; a counted share or click is an interaction with the author.
 * Before its post is known (the event overtook the post's change), a share or click is recorded
 * as pending (`s:{user}` = "p") and an impression as `i:{user}` (days counted); the post's
 * upsert settles them (SETTLE_LUA), the author's own left out.
 */
export const EVENT_LUA = `${COUNTERS_LUA}
local pk, af, imk = KEYS[1], KEYS[2], KEYS[3]
local pid, user, kind, now, ttl, imttl, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local author = redis.call('HGET', pk, 'a')
if author == user then return 0 end
local ak = author and (prefix .. author) or nil
local live = author and redis.call('HGET', pk, 'd') ~= '1' and redis.call('HEXISTS', ak, pid) == 1
if kind == 'share' or kind == 'click' then
  local field = (kind == 'share' and 's:' or 'k:') .. user
  if redis.call('HSETNX', pk, field, author and '1' or 'p') == 0 then return 0 end
  if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
  if not author then return 1 end
  if kind == 'share' and live then bump_counter(ak, pid, 3, 1) end
  redis.call('HINCRBY', af, author, 1)
  redis.call('HSET', af, '_b', now)
  return 1
elseif kind == 'impression' then
  if redis.call('SADD', imk, pid) == 0 then return 0 end
  if redis.call('TTL', imk) == -1 then redis.call('EXPIRE', imk, imttl) end
  if not author then
    redis.call('HINCRBY', pk, 'i:' .. user, 1)
    if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
    return 1
  end
  if live then bump_counter(ak, pid, 4, 1) end
  return 1
end
return 0
`;

/**
 * Replaces a user's affinity with ClickHouse's numbers unless the updater bumped it in the
 * last `quiet` ms (the two pipelines may then disagree about which changes are included).
 * KEYS: affinity hash. ARGV: now ms, quiet ms, then author, n pairs.
 */
export const REFRESH_AFFINITY_LUA = `
local af = KEYS[1]
local now, quiet = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = tonumber(redis.call('HGET', af, '_b') or '0')
if now - b < quiet then return 0 end
redis.call('DEL', af)
for i = 3, #ARGV - 1, 2 do redis.call('HSET', af, ARGV[i], ARGV[i + 1]) end
return 1
`;

/**
 * A user appears, changes or goes (deleted_at set, or the row deleted).
 * KEYS: the user's profile, the user's author hash, the deleted-users set, the key of the
 * change's handle. ARGV: user id, live (1/0), handle, display name, bio, created ms, version
 * (LSN), handle-key prefix, profile-key prefix.
 * The profile holds the version of the change it shows (`_v`): a change not newer is a replay
 * and a no-op. A handle key names the live user that holds the handle; the user's old handle
 * (a rename, a deletion) goes only while it still names this user (another may hold it by now).
 * Two users may claim one handle in the index for a moment (a rename frees it for another user
 * whose change arrives first, on another partition): the newer claim holds it, judged by the
 * version of the other claimant's profile, which still shows the handle only if its release has
 * not arrived yet. The author hash's `_u` follows the profile while the hash exists.
 */
export const USER_LUA = `
local pk, ak, du, hk = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local uid, live, handle, name, bio, created = ARGV[1], ARGV[2] == '1', ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ver, hprefix, pprefix = tonumber(ARGV[7]), ARGV[8], ARGV[9]
local cur = redis.call('HMGET', pk, 'h', '_v')
if cur[2] and tonumber(cur[2]) >= ver then return 0 end
local function release(k)
  if redis.call('GET', k) == uid then redis.call('DEL', k) end
end
local old = cur[1]
if old and (not live or string.lower(old) ~= string.lower(handle)) then release(hprefix .. string.lower(old)) end
if not live then
  release(hk)
  redis.call('DEL', pk)
  redis.call('HDEL', ak, '_u')
  redis.call('SADD', du, uid)
  return 1
end
redis.call('SREM', du, uid)
redis.call('HSET', pk, 'h', handle, 'n', name, 'b', bio, 'c', created, '_v', ARGV[7])
local holder = redis.call('GET', hk)
if holder ~= uid then
  local take = true
  if holder then
    local other = redis.call('HMGET', pprefix .. holder, 'h', '_v')
    if other[1] and string.lower(other[1]) == string.lower(handle) and (tonumber(other[2]) or 0) > ver then
      take = false
    end
  end
  if take then redis.call('SET', hk, uid) end
end
if redis.call('EXISTS', ak) == 1 then redis.call('HSET', ak, '_u', handle .. '\\t' .. name) end
return 1
`;

/**
 * A user's live follower count (ZCARD of `followers(u)`, KEYS[1]) and when it was read (Redis
 * TIME in µs), in one atomic read of one key: what FOLLOWER_COUNT_SET_LUA records. Read-only.
 */
export const FOLLOWER_COUNT_READ_LUA = `
local t = redis.call('TIME')
return {redis.call('ZCARD', KEYS[1]), tonumber(t[1]) * 1000000 + tonumber(t[2])}
`;

/**
 * Records a follower count read by FOLLOWER_COUNT_READ_LUA in the suggestions' `followerCounts`
 * (KEYS[1], ZSET user → minus the count, only counts > 0) unless a later read was recorded
 * already (`followerCountsAt`, KEYS[2], same hash tag; kept ARGV[4] seconds after its last
 * write): two writers that read one user's count in turn end with the later read, whichever
 * writes first. ARGV: user, count, read time (µs), TTL of the times.
 */
export const FOLLOWER_COUNT_SET_LUA = `
local at = tonumber(ARGV[3])
local prev = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if prev >= at then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local n = tonumber(ARGV[2])
if n > 0 then redis.call('ZADD', KEYS[1], -n, ARGV[1]) else redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1
`;
