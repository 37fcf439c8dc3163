/**
 * Keyset paging over a sorted set of the serving index (member = id, score = epoch ms), pure:
 * the read of one page after a cursor and how its reply becomes the page and the next cursor.
 * Entries are ordered by (score, id), newest or oldest first, as Redis orders them (ties by
 * member, bytewise). A cursor names the last entry served, so entries added meanwhile (newer
 * ones on top, equal-score ones anywhere) neither repeat nor skip the rest.
 *
 * The read is one read-only script (one round trip, one key, so it runs on Upstash REST and on a
 * Redis Cluster unchanged): from the cursor's rank when its entry is still there with its score
 * (O(log n)), else from its score, dropping the entries of that score up to its id.
 */
import type { Command } from "../serving/read.ts";
import type { ListCursor, ListKind } from "./cursor.ts";

export type Order = "newest" | "oldest";

export interface ListEntry {
  id: string;
  score: number;
}

/** KEYS[1] the set; ARGV: rev ('1' newest first), has cursor, cursor score, cursor id, count. */
export const LIST_PAGE_LUA = `local key = KEYS[1]
local rev = ARGV[1] == '1'
local count = tonumber(ARGV[5])
if ARGV[2] ~= '1' then
  if rev then return redis.call('ZRANGE', key, 0, count - 1, 'REV', 'WITHSCORES') end
  return redis.call('ZRANGE', key, 0, count - 1, 'WITHSCORES')
end
local s, id = tonumber(ARGV[3]), ARGV[4]
local at = redis.call('ZSCORE', key, id)
if at and tonumber(at) == s then
  local r
  if rev then r = redis.call('ZREVRANK', key, id) else r = redis.call('ZRANK', key, id) end
  if rev then return redis.call('ZRANGE', key, r + 1, r + count, 'REV', 'WITHSCORES') end
  return redis.call('ZRANGE', key, r + 1, r + count, 'WITHSCORES')
end
local out = {}
local ties
if rev then ties = redis.call('ZRANGE', key, ARGV[3], ARGV[3], 'BYSCORE', 'REV') else ties = redis.call('ZRANGE', key, ARGV[3], ARGV[3], 'BYSCORE') end
for _, m in ipairs(ties) do
  if (rev and m < id) or ((not rev) and m > id) then
    out[#out + 1] = m
    out[#out + 1] = ARGV[3]
    if #out >= 2 * count then return out end
  end
end
local rest
if rev then
  rest = redis.call('ZRANGE', key, '(' .. ARGV[3], '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, count - #out / 2, 'WITHSCORES')
else
  rest = redis.call('ZRANGE', key, '(' .. ARGV[3], '+inf', 'BYSCORE', 'LIMIT', 0, count - #out / 2, 'WITHSCORES')
end
for _, v in ipairs(rest) do out[#out + 1] = v end
return out`;

/**
 * The page's read: `limit + 1` entries after the cursor (the extra one says whether more follow).
 * Sent as EVAL_RO: the script only reads, so a database with read replicas (Upstash Global) may
 * answer it from the one nearest the edge, as it does GET or ZRANGE.
 */
export function listPageRead(key: string, order: Order, cursor: ListCursor | null, limit: number): Command {
  return [
    "EVAL_RO",
    LIST_PAGE_LUA,
    "1",
    key,
    order === "newest" ? "1" : "0",
    cursor ? "1" : "0",
    cursor ? String(cursor.score) : "0",
    cursor ? cursor.id : "",
    String(limit + 1),
  ];
}

/** A WITHSCORES reply: a flat [member, score, …] list (RESP, Lua), or [{member, score}] objects. */
export function parseScored(reply: unknown): ListEntry[] {
  if (!Array.isArray(reply)) return [];
  const out: ListEntry[] = [];
  if (reply.length && typeof reply[0] === "object" && reply[0] !== null) {
    for (const e of reply as { member?: unknown; score?: unknown }[]) {
      out.push({ id: String(e.member), score: Number(e.score) });
    }
    return out;
  }
  for (let i = 0; i + 1 < reply.length; i += 2) out.push({ id: String(reply[i]), score: Number(reply[i + 1]) });
  return out;
}

export interface ListPage {
  entries: ListEntry[];
  /** The position after the last entry of this page, or null when the list ends here. */
  next: ListCursor | null;
}

/** The page from the script's reply: at most `limit` entries, and the next cursor if more follow. */
export function listPage(reply: unknown, kind: ListKind, owner: string, limit: number): ListPage {
  const raw = parseScored(reply);
  const entries = raw.slice(0, limit);
  const last = entries.at(-1);
  if (raw.length <= limit || !last) return { entries, next: null };
  return { entries, next: { kind, owner, score: last.score, id: last.id } };
}
