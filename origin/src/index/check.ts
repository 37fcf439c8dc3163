/**
 * `check:index`: compares the serving index in Redis with what ClickHouse says it should hold
 * (readIndexState): every author hash (posts of the window, their text, time and counters),
 * every followee and block set, the deleted users and every affinity hash. Keys the index has
 * and ClickHouse does not (a post deleted or aged out, an unfollow) count as differences too.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import type { Redis } from "ioredis";
import type { IndexKeys } from "../../../edge/core/index.ts";
import { authorFields, type IndexState, readIndexState } from "./bootstrap.ts";

export interface IndexDifference {
  key: string;
  field?: string;
  index: string | null;
  clickhouse: string | null;
}

export interface IndexCheckReport {
  keysCompared: number;
  /** Every difference found; `differences` lists the first `limit` of them. */
  total: number;
  differences: IndexDifference[];
}

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    out.push(...keys);
    cursor = next;
  } while (cursor !== "0");
  return out;
}

function compareHash(
  key: string,
  have: Record<string, string>,
  want: Record<string, string>,
  out: IndexDifference[],
  ignore: (field: string) => boolean = () => false,
) {
  for (const f of new Set([...Object.keys(have), ...Object.keys(want)])) {
    if (ignore(f)) continue;
    const a = have[f] ?? null;
    const b = want[f] ?? null;
    // A zero counter may be absent on either side.
    if (a !== b && !(f.includes(":") && Number(a ?? 0) === Number(b ?? 0))) {
      out.push({ key, field: f, index: a, clickhouse: b });
    }
  }
}

export async function checkIndex(
  ch: ClickHouseClient,
  redis: Redis,
  keys: IndexKeys,
  limit = 1000,
): Promise<IndexCheckReport> {
  const state: IndexState = await readIndexState(ch);
  const differences: IndexDifference[] = [];
  let compared = 0;

  const wantAuthors = new Map<string, Record<string, string>>();
  for (const [pid, s] of state.posts) {
    const k = keys.authorPosts(s.authorId);
    wantAuthors.set(k, { ...(wantAuthors.get(k) ?? {}), ...authorFields(pid, s) });
  }
  const prefixOf = (key: string) => key.slice(0, key.length - 36);
  const authorKeys = new Set([
    ...wantAuthors.keys(),
    ...(await scanKeys(redis, `${prefixOf(keys.authorPosts("0".repeat(36)))}*`)),
  ]);
  for (const k of authorKeys) {
    compareHash(k, await redis.hgetall(k), wantAuthors.get(k) ?? {}, differences);
    compared++;
  }

  const sets: [Map<string, Set<string>>, (u: string) => string][] = [
    [state.followees, keys.followees],
    [state.blocksOut, keys.blocksOut],
    [state.blocksIn, keys.blocksIn],
  ];
  for (const [want, key] of sets) {
    const all = new Set([
      ...[...want.keys()].map(key),
      ...(await scanKeys(redis, `${prefixOf(key("0".repeat(36)))}*`)),
    ]);
    const byKey = new Map([...want].map(([u, s]) => [key(u), s]));
    for (const k of all) {
      const have = new Set(await redis.smembers(k));
      const w = byKey.get(k) ?? new Set<string>();
      for (const m of new Set([...have, ...w])) {
        if (have.has(m) !== w.has(m))
          differences.push({ key: k, field: m, index: have.has(m) ? "1" : null, clickhouse: w.has(m) ? "1" : null });
      }
      compared++;
    }
  }

  const deleted = new Set(await redis.smembers(keys.deletedUsers));
  for (const u of new Set([...deleted, ...state.deletedUsers])) {
    if (deleted.has(u) !== state.deletedUsers.has(u)) {
      differences.push({
        key: keys.deletedUsers,
        field: u,
        index: deleted.has(u) ? "1" : null,
        clickhouse: state.deletedUsers.has(u) ? "1" : null,
      });
    }
  }
  compared++;

  const affinityKeys = new Set([
    ...[...state.affinity.keys()].map(keys.affinity),
    ...(await scanKeys(redis, `${prefixOf(keys.affinity("0".repeat(36)))}*`)),
  ]);
  const wantAffinity = new Map([...state.affinity].map(([u, m]) => [keys.affinity(u), m]));
  for (const k of affinityKeys) {
    const want = Object.fromEntries([...(wantAffinity.get(k) ?? new Map())].map(([a, n]) => [a, String(n)]));
    const have = await redis.hgetall(k);
    // Zero and absent are the same interaction count.
    for (const [f, v] of Object.entries(have)) if (Number(v) === 0) delete have[f];
    compareHash(k, have, want, differences, (f) => f.startsWith("_"));
    compared++;
  }
  return { keysCompared: compared, total: differences.length, differences: differences.slice(0, limit) };
}
