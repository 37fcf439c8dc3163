/**
 * The serving index's write scripts (Lua, run by Redis atomically). Each applies one change
 * and is idempotent: a change records itself in the post's hash (`l:{user}`, `c:{comment}`,
 * `s:{user}`, `k:{user}`) or the viewer's impressions set, and a counter or an affinity moves
 * only when that record changes. So a redelivered batch, or a replay from any earlier offset
 * in order, leaves every counter as it was. Layout: edge/core/keys.ts (indexKeys).
 *
 * The author hash of an event's post is found through the post hash (`a`), so EVENT_LUA
 * touches a key it does not declare, and a post's upsert bumps the affinity of users whose
 * shares or clicks arrived before it; standalone Redis and Upstash allow that. On a Redis
 * Cluster, tag the keys by post or author ({…}) and split the affinity bump into a second
 * script with its own record, as the README describes.
 *
 * A post's four counters are one author-hash field `{post}:n` = "likes,comments,shares,
 * impressions" (edge/core/keys.ts encodePostCounters), absent when all are zero; COUNTERS_LUA
 * below is the Lua side of that codec, prepended to the scripts that move a counter.
 */

/**
 * `set_counter(ak, pid, slot, value)` and `bump_counter(ak, pid, slot, delta)`; slot 1 likes,
 * 2 comments, 3 shares, 4 impressions. A counter never goes below zero, and a field whose
 * counters are all zero leaves the hash (as encodePostCounters returns null).
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
 * KEYS: post hash, author hash. ARGV: post id, author id, created ms, text, live (1/0), now ms,
 * post ttl s, window ms, posts per author, affinity-hash key prefix.
 * First settles what arrived before the post (SETTLE_LUA). A live post of the window gets its
 * base field and counters recomputed from the post hash's records (so likes or shares that
 * arrived before the post count), the author's own likes, comments and shares left out; its
 * impressions counter gains the pending impressions.
 */
export const UPSERT_POST_LUA = `${COUNTERS_LUA}${SETTLE_LUA}
local pk, ak = KEYS[1], KEYS[2]
local pid, author, created, text = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local live, now, ttl, window, cap = ARGV[5] == '1', tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local afprefix = ARGV[10]
local expire_at = math.floor(created / 1000) + ttl
-- The author first, so an event arriving from now on finds it; then what came before.
redis.call('HSET', pk, 'a', author, 't', created)
local pending_imp = settle(pk, author, afprefix, ARGV[6])
if not live then
  redis.call('HSET', pk, 'd', '1')
  redis.call('EXPIREAT', pk, expire_at)
  redis.call('HDEL', ak, pid, pid .. ':n')
  return 0
end
if created < now - window then
  redis.call('EXPIREAT', pk, expire_at)
  return 0
end
redis.call('HDEL', pk, 'd')
redis.call('EXPIREAT', pk, expire_at)
local l, c, s = 0, 0, 0
local fields = redis.call('HGETALL', pk)
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  local kind, who = string.sub(f, 1, 2), string.sub(f, 3)
  if kind == 'l:' and who ~= author then l = l + 1
  elseif kind == 'c:' and v ~= author then c = c + 1
  elseif kind == 's:' and who ~= author then s = s + 1 end
end
redis.call('HSET', ak, pid, created .. '\\t' .. text)
local n = read_counters(ak, pid)
n[1], n[2], n[3] = l, c, s
n[4] = n[4] + pending_imp
write_counters(ak, pid, n)
if redis.call('EXPIRETIME', ak) < expire_at then redis.call('EXPIREAT', ak, expire_at) end
-- Keep the newest posts of the window, at most cap.
local afields = redis.call('HGETALL', ak)
local posts = {}
for i = 1, #afields, 2 do
  local f = afields[i]
  if not string.find(f, ':', 1, true) then
    local t = tonumber(string.match(afields[i + 1], '^(%d+)')) or 0
    table.insert(posts, { f, t })
  end
end
if #posts > 0 then
  table.sort(posts, function(x, y) if x[2] == y[2] then return x[1] > y[1] end return x[2] > y[2] end)
  for i, p in ipairs(posts) do
    if i > cap or p[2] < now - window then
      redis.call('HDEL', ak, p[1], p[1] .. ':n')
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
 * author's own like or comment counts toward nothing in ranking (neither the post's counter nor
 * any affinity); its record is kept all the same, so its redelivery is a no-op too.
 */
export const INTERACTION_LUA = `${COUNTERS_LUA}
local pk, ak, af = KEYS[1], KEYS[2], KEYS[3]
local field, kind, pid, actor, author = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local live, now, ttl = ARGV[6] == '1', ARGV[7], tonumber(ARGV[8])
local changed
if live then changed = redis.call('HSETNX', pk, field, actor) else changed = redis.call('HDEL', pk, field) end
if changed == 0 then return 0 end
if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
if actor == author then return 0 end
local delta = live and 1 or -1
-- A count that reaches zero leaves its hash, as if it had never been.
if redis.call('HGET', pk, 'd') ~= '1' and redis.call('HEXISTS', ak, pid) == 1 then
  bump_counter(ak, pid, kind == 'l' and 1 or 2, delta)
end
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
