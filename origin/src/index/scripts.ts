/**
 * The serving index's write scripts (Lua, run by Redis atomically). Layout 5 (edge/core/keys.ts
 * indexKeys): every script touches the keys of one hash tag only, so a Redis Cluster runs each as
 * one node does, and a change that reaches keys of more than one tag is split into steps that are
 * each idempotent on their own, run by the writer one after another (writer.ts):
 *
 * 1. **The owner's step**, on the post's tag `{p}` (the post hash `fi:p:{p}`, its outbox
 *    `fi:pq:{p}`, its impression sets `fi:im:{p}:<day>`) or the user's `{u}` (profile, author hash,
 *    handle releases): applies the change exactly once by its record (`l:{user}`, `c:{comment}`,
 *    `s:{user}`, `k:{user}`, an impression set member, the profile's `_v`), moves the post's own
 *    counters (`n`, see below) and its version `v`, and returns what the other tags need: the
 *    post's counters at that version, and the affinity bumps it owes (outbox entries).
 * 2. **The derived steps**, each on one other tag: the author hash `fi:ap:{a}` takes the counters
 *    only when their version is newer than the one it holds (A_COPY_LUA), so copies that arrive in
 *    any order, twice, or from two updaters at once end at the newest; a user's affinity
 *    `fi:af:{u}` takes an owed bump once, by a marker in `fi:aq:{u}` (U_AFFINITY_LUA); handle keys
 *    are claimed and released by version (HANDLE_CLAIM_LUA, HANDLE_RELEASE_LUA).
 * 3. **The clean-up**: the applied outbox entries leave the post's outbox, then their markers go.
 *
 * A crash between steps leaves the owner's record and an outbox entry; the redelivered change
 * finds its record unchanged, but its step 1 still returns the post's counters and the entries
 * owed for its record, so steps 2 and 3 run again and complete (each applied once). Replaying the
 * streams from any earlier offset in order changes nothing, as before.
 *
 * The post's counters are the post hash's field `n` = "likes,comments,shares,impressions,plain
 * likes,plain comments" (likes and comments by others, counted shares, counted impressions;
 * plain totals every live like and comment, the author's own included), and `v` its version,
 * raised by every change of the post hash. The author hash holds the copy the edge reads:
 * `{post}:n` = "likes,comments,shares,impressions,version" (present once any copy carried a
 * version, zeros included) and `{post}:d` = "likes,comments" (absent when both are zero); the
 * author's `_u` (encodeAuthorCard) is the author's "handle\tdisplay name", present while the hash
 * holds a post and the author's profile exists; a field beginning with `_` is never a post.
 */

/** The post hash's counters `n` (6 numbers) and version `v`; `next_v` raises the version. */
const POST_COUNTS_LUA = `
local function read_n(pk)
  local n = { 0, 0, 0, 0, 0, 0 }
  local v = redis.call('HGET', pk, 'n')
  if v then
    local i = 1
    for x in string.gmatch(v, '[^,]+') do n[i] = tonumber(x) or 0; i = i + 1 end
  end
  return n
end
local function write_n(pk, n)
  for i = 1, 6 do if n[i] < 0 then n[i] = 0 end end
  redis.call('HSET', pk, 'n', table.concat(n, ','))
end
local function next_v(pk)
  return redis.call('HINCRBY', pk, 'v', 1)
end
-- What step 1 returns: the version, "l,c,s,i", "pl,pc", then the outbox entries.
local function state(pk, entries)
  local n = read_n(pk)
  local out = { tonumber(redis.call('HGET', pk, 'v') or '0'), n[1] .. ',' .. n[2] .. ',' .. n[3] .. ',' .. n[4], n[5] .. ',' .. n[6] }
  for _, e in ipairs(entries) do table.insert(out, e) end
  return out
end
-- An owed affinity bump: outbox field "q:<v>" = "record\tcreator\tuser\tauthor\tdelta".
local function owe(pq, pk, ttl, field, creator, user, author, delta)
  local q = next_v(pk)
  redis.call('HSET', pq, 'q:' .. q, field .. '\t' .. creator .. '\t' .. user .. '\t' .. author .. '\t' .. delta)
  if redis.call('TTL', pq) == -1 then redis.call('EXPIRE', pq, ttl) end
end
-- The entries still owed for one record (any record when field is "") by one kind of change
-- ("<entry>\trecord\tcreator\tuser\tauthor\tdelta" each).
local function owed(pq, field, creator)
  local out = {}
  local all = redis.call('HGETALL', pq)
  for i = 1, #all, 2 do
    local v = all[i + 1]
    local f, c = string.match(v, '^([^\t]*)\t([^\t]*)\t')
    if c == creator and (field == '' or f == field) then
      table.insert(out, string.sub(all[i], 3) .. '\t' .. v)
    end
  end
  return out
end
`;

/**
 * Step 1 of a post's change (KEYS: post hash, its outbox). ARGV: author id, created ms, live
 * (1/0), now ms, post ttl s, window ms.
 * First settles what arrived before the post: each share or click recorded as pending
 * (`s:{user}` / `k:{user}` = "p") becomes counted and owes an affinity bump (creator `u`), unless
 * it is the author's own (its record goes); pending impressions (`i:{user}` = days) join the
 * impression counter, the author's own left out. A live post recomputes its likes, comments,
 * shares and plain totals from the records (so what came first counts, the author's own left
 * out of the ranking counters). Returns the mode (`show`: a live post of the window; `hide`:
 * deleted; `none`: older than the window, the author hash is left as it is), then state().
 */
export const P_UPSERT_LUA = `${POST_COUNTS_LUA}
local pk, pq = KEYS[1], KEYS[2]
local author, created = ARGV[1], tonumber(ARGV[2])
local live, now, ttl, window = ARGV[3] == '1', tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local expire_at = math.floor(created / 1000) + ttl
redis.call('HSET', pk, 'a', author, 't', ARGV[2])
local n = read_n(pk)
local fields = redis.call('HGETALL', pk)
local l, c, s, pl, pc = 0, 0, 0, 0, 0
for i = 1, #fields, 2 do
  local f, v = fields[i], fields[i + 1]
  local kind, who = string.sub(f, 1, 2), string.sub(f, 3)
  if (kind == 's:' or kind == 'k:') and v == 'p' then
    if who == author then
      redis.call('HDEL', pk, f)
    else
      redis.call('HSET', pk, f, '1')
      owe(pq, pk, ttl, f, 'u', who, author, 1)
      if kind == 's:' then s = s + 1 end
    end
  elseif kind == 'i:' then
    if who ~= author then n[4] = n[4] + (tonumber(v) or 0) end
    redis.call('HDEL', pk, f)
  elseif kind == 'l:' then
    pl = pl + 1
    if who ~= author then l = l + 1 end
  elseif kind == 'c:' then
    pc = pc + 1
    if v ~= author then c = c + 1 end
  elseif kind == 's:' and who ~= author then
    s = s + 1
  end
end
n[1], n[2], n[3], n[5], n[6] = l, c, s, pl, pc
-- The version moves only with what it versions (a replay of the change leaves the hash as it is).
local before = redis.call('HGET', pk, 'n') or '0,0,0,0,0,0'
local was_deleted = redis.call('HGET', pk, 'd') == '1'
write_n(pk, n)
if redis.call('HGET', pk, 'n') ~= before or was_deleted == live then next_v(pk) end
redis.call('EXPIREAT', pk, expire_at)
local mode
if not live then
  redis.call('HSET', pk, 'd', '1')
  mode = 'hide'
else
  redis.call('HDEL', pk, 'd')
  mode = created < now - window and 'none' or 'show'
end
local out = state(pk, owed(pq, '', 'u'))
table.insert(out, 1, mode)
return out
`;

/**
 * Step 1 of a like or a comment appearing (live 1) or going (live 0). KEYS: post hash, its
 * outbox. ARGV: record field (`l:{user}` or `c:{comment}`), counter (l or c), actor id, post
 * author id, live, post ttl s.
 * The record's value is the actor, so the author's own comment is known as such later. The plain
 * totals move with every record that appears or goes, the author's own included; the author's own
 * counts toward neither the ranking counter nor any affinity; anyone else's owes the actor's
 * affinity with the author ±1 (creator `i`). Returns state() with the entries owed for this
 * record (a redelivery finds those a crash left).
 */
export const P_INTERACTION_LUA = `${POST_COUNTS_LUA}
local pk, pq = KEYS[1], KEYS[2]
local field, kind, actor, author = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local live, ttl = ARGV[5] == '1', tonumber(ARGV[6])
local changed
if live then changed = redis.call('HSETNX', pk, field, actor) else changed = redis.call('HDEL', pk, field) end
if changed == 1 then
  if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
  local delta = live and 1 or -1
  local n = read_n(pk)
  local slot = kind == 'l' and 1 or 2
  n[slot + 4] = n[slot + 4] + delta
  if actor ~= author then n[slot] = n[slot] + delta end
  write_n(pk, n)
  next_v(pk)
  if actor ~= author then owe(pq, pk, ttl, field, 'i', actor, author, delta) end
end
return state(pk, owed(pq, field, 'i'))
`;

/**
 * Step 1 of an event. KEYS: post hash, its outbox, the post's impression set of the event's UTC
 * day. ARGV: user id, type, post ttl s, impressions ttl s.
 * A share or click counts once per (user, post), an impression once per (user, post, day), never
 * on the user's own post; a counted share or click owes the user's affinity with the author +1
 * (creator `e`). Before its post is known (the event overtook the post's change), a share or
 * click is recorded as pending (`s:{user}` = "p") and an impression as `i:{user}` (days
 * counted); the post's upsert settles them. Returns the author ("" when unknown, or the user's
 * own post), then state() with the entries owed for this record.
 */
export const P_EVENT_LUA = `${POST_COUNTS_LUA}
local pk, pq, imk = KEYS[1], KEYS[2], KEYS[3]
local user, kind, ttl, imttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local author = redis.call('HGET', pk, 'a')
if author == user then return { '' } end
local out
if kind == 'share' or kind == 'click' then
  local field = (kind == 'share' and 's:' or 'k:') .. user
  if redis.call('HSETNX', pk, field, author and '1' or 'p') == 1 then
    if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
    if author then
      if kind == 'share' then
        local n = read_n(pk)
        n[3] = n[3] + 1
        write_n(pk, n)
      end
      next_v(pk)
      owe(pq, pk, ttl, field, 'e', user, author, 1)
    end
  end
  if not author then return { '' } end
  out = state(pk, owed(pq, field, 'e'))
elseif kind == 'impression' then
  if redis.call('SADD', imk, user) == 1 then
    if redis.call('TTL', imk) == -1 then redis.call('EXPIRE', imk, imttl) end
    if not author then
      redis.call('HINCRBY', pk, 'i:' .. user, 1)
      if redis.call('TTL', pk) == -1 then redis.call('EXPIRE', pk, ttl) end
      return { '' }
    end
    local n = read_n(pk)
    n[4] = n[4] + 1
    write_n(pk, n)
    next_v(pk)
  end
  if not author then return { '' } end
  out = state(pk, {})
else
  return { '' }
end
table.insert(out, 1, author)
return out
`;

/**
 * The reconciliation's repair of a post's counters (KEYS: post hash). ARGV: the first counter
 * (1: the four ranking counters, 5: the two plain totals), the values the comparison saw there
 * ("a,b,…"), the values to set. Sets them only while the post hash still holds what was seen
 * (when it holds the values to set already, only the author hash's copy was wrong), raising the
 * version so the copy follows; returns state(), or 0 when it moved meanwhile.
 */
export const P_SET_COUNTS_LUA = `${POST_COUNTS_LUA}
local pk = KEYS[1]
local from = tonumber(ARGV[1])
if redis.call('EXISTS', pk) == 0 then return 0 end
local n = read_n(pk)
local function holds(csv)
  local i = from
  for x in string.gmatch(csv, '[^,]+') do
    if (tonumber(x) or 0) ~= n[i] then return false end
    i = i + 1
  end
  return true
end
-- Holding the wanted values already, only the author hash's copy was wrong: copy again.
if not holds(ARGV[3]) then
  if not holds(ARGV[2]) then return 0 end
  local i = from
  for x in string.gmatch(ARGV[3], '[^,]+') do n[i] = tonumber(x) or 0; i = i + 1 end
  write_n(pk, n)
end
next_v(pk)
return state(pk, {})
`;

/**
 * Step 2: a post's counters into its author's hash (KEYS: author hash). ARGV: post id, version,
 * "l,c,s,i", "pl,pc". Only beside the post (an author hash holds the counters of the posts it
 * holds) and only when newer than the version it holds; `{post}:n` keeps its version, zeros
 * included, `{post}:d` goes when both are zero. Returns 1 when written.
 */
export const A_COPY_LUA = `
local ak, pid, v = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('HEXISTS', ak, pid) == 0 then return 0 end
local cur = redis.call('HGET', ak, pid .. ':n')
local held = 0
if cur then held = tonumber(string.match(cur, '^[^,]*,[^,]*,[^,]*,[^,]*,(%d+)')) or 0 end
if v <= held then return 0 end
redis.call('HSET', ak, pid .. ':n', ARGV[3] .. ',' .. v)
if ARGV[4] == '0,0' then redis.call('HDEL', ak, pid .. ':d') else redis.call('HSET', ak, pid .. ':d', ARGV[4]) end
return 1
`;

/**
 * Step 2 of a live post of the window (KEYS: author hash, the author's profile). ARGV: post id,
 * created ms, text, version, "l,c,s,i", "pl,pc", now ms, window ms, posts per author, expire-at
 * s. Writes the post's field, its counters (as A_COPY_LUA: only a newer version), the author's
 * `_u` from the profile, the hash's expiry, and keeps the newest posts of the window, at most
 * the cap.
 */
export const A_SHOW_LUA = `
local ak, uk = KEYS[1], KEYS[2]
local pid, created, text, v = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now, window, cap, expire_at = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
redis.call('HSET', ak, pid, created .. '\t' .. text)
local cur = redis.call('HGET', ak, pid .. ':n')
local held = 0
if cur then held = tonumber(string.match(cur, '^[^,]*,[^,]*,[^,]*,[^,]*,(%d+)')) or 0 end
if v > held then
  redis.call('HSET', ak, pid .. ':n', ARGV[5] .. ',' .. v)
  if ARGV[6] == '0,0' then redis.call('HDEL', ak, pid .. ':d') else redis.call('HSET', ak, pid .. ':d', ARGV[6]) end
end
local card = redis.call('HMGET', uk, 'h', 'n')
if card[1] then
  redis.call('HSET', ak, '_u', card[1] .. '\t' .. (card[2] or ''))
else
  redis.call('HDEL', ak, '_u')
end
if redis.call('EXPIRETIME', ak) < expire_at then redis.call('EXPIREAT', ak, expire_at) end
local afields = redis.call('HGETALL', ak)
local posts = {}
for i = 1, #afields, 2 do
  local f = afields[i]
  if not string.find(f, ':', 1, true) and string.sub(f, 1, 1) ~= '_' then
    local t = tonumber(string.match(afields[i + 1], '^(%d+)')) or 0
    table.insert(posts, { f, t })
  end
end
table.sort(posts, function(x, y) if x[2] == y[2] then return x[1] > y[1] end return x[2] > y[2] end)
for i, p in ipairs(posts) do
  if i > cap or p[2] < now - window then redis.call('HDEL', ak, p[1], p[1] .. ':n', p[1] .. ':d') end
end
return 1
`;

/**
 * Step 2 of a deleted post (KEYS: author hash; ARGV: post id): its fields go, and the whole hash
 * (its `_u`) when it held no other post.
 */
export const A_HIDE_LUA = `
local ak, pid = KEYS[1], ARGV[1]
if redis.call('HDEL', ak, pid, pid .. ':n', pid .. ':d') == 0 then return 0 end
for _, f in ipairs(redis.call('HKEYS', ak)) do
  if not string.find(f, ':', 1, true) and string.sub(f, 1, 1) ~= '_' then return 1 end
end
redis.call('DEL', ak)
return 1
`;

/**
 * Step 2 of an owed affinity bump (KEYS: the user's affinity hash, the user's markers). ARGV:
 * marker ("<post>:<entry>"), author id, delta, now ms, marker ttl s. Applied once per marker; an
 * author whose count reaches zero leaves the hash; `_b` = now (the refresh's quiet period).
 */
export const U_AFFINITY_LUA = `
local af, aq = KEYS[1], KEYS[2]
if redis.call('HSETNX', aq, ARGV[1], '1') == 0 then return 0 end
redis.call('EXPIRE', aq, ARGV[5])
if redis.call('HINCRBY', af, ARGV[2], tonumber(ARGV[3])) <= 0 then redis.call('HDEL', af, ARGV[2]) end
redis.call('HSET', af, '_b', ARGV[4])
return 1
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
 * Step 1 of a user appearing, changing or going (deleted_at set, or the row deleted). KEYS: the
 * user's profile, the user's author hash, the user's handle releases (a SET of
 * "handle\tversion" still to release). ARGV: user id, live (1/0), handle, display name, bio,
 * created ms, version (LSN).
 * The profile holds the version of the change it shows (`_v`): an older change is a replay and
 * a no-op (returns 0); the same version was applied already (returns 2, so its later steps run
 * again); a newer one is applied (returns 1). A rename or a deletion leaves the old handle to
 * release. The author hash's `_u` follows the profile while the hash exists. Returns the
 * outcome, the handle now claimed ("" when deleted), then the releases owed.
 */
export const USER_LUA = `
local pk, ak, hr = KEYS[1], KEYS[2], KEYS[3]
local live, handle, name, bio, created = ARGV[2] == '1', ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local ver = tonumber(ARGV[7])
local cur = redis.call('HMGET', pk, 'h', '_v')
local outcome = 1
if cur[2] and tonumber(cur[2]) > ver then return { 0 } end
if cur[2] and tonumber(cur[2]) == ver then
  outcome = 2
else
  local old = cur[1]
  if old and (not live or string.lower(old) ~= string.lower(handle)) then
    redis.call('SADD', hr, string.lower(old) .. '\t' .. ARGV[7])
  end
  if live then
    redis.call('HSET', pk, 'h', handle, 'n', name, 'b', bio, 'c', created, '_v', ARGV[7])
    if redis.call('EXISTS', ak) == 1 then redis.call('HSET', ak, '_u', handle .. '\t' .. name) end
  else
    redis.call('DEL', pk)
    redis.call('HDEL', ak, '_u')
  end
end
local out = { outcome, live and string.lower(handle) or '' }
for _, r in ipairs(redis.call('SMEMBERS', hr)) do table.insert(out, r) end
return out
`;

/**
 * Step 2: a handle claimed (KEYS: the handle's key, a HASH `u` user, `v` the claim's version).
 * ARGV: user id, version. The newer claim holds it: two users may claim one handle in the index
 * for a moment (a rename frees it for another user whose change arrives first, on another
 * partition). Returns 1 when this user holds it afterwards.
 */
export const HANDLE_CLAIM_LUA = `
local cur = redis.call('HMGET', KEYS[1], 'u', 'v')
local ver = tonumber(ARGV[2])
if cur[1] == ARGV[1] then
  if (tonumber(cur[2]) or 0) < ver then redis.call('HSET', KEYS[1], 'v', ARGV[2]) end
  return 1
end
if cur[1] and (tonumber(cur[2]) or 0) > ver then return 0 end
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'v', ARGV[2])
return 1
`;

/**
 * Step 2: a handle released (KEYS: the handle's key). ARGV: user id, the release's version. Goes
 * only while it names this user by a claim not newer than the release (another user, or this
 * user's own later claim, may hold it by now).
 */
export const HANDLE_RELEASE_LUA = `
local cur = redis.call('HMGET', KEYS[1], 'u', 'v')
if cur[1] == ARGV[1] and (tonumber(cur[2]) or 0) <= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]); return 1 end
return 0
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
