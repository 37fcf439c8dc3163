/**
 * Bench phase: the read side (GET /api/v1/users/{id}, …/posts, …/followers, …/following,
 * /posts/{id}, …/comments). For the same viewers and targets on both sides (each viewer opens
 * someone they follow: their profile, their posts, a next page of them, their followers and
 * whom they follow; and a thread: a post with comments, its comments), first a check that both
 * sides answer the same (status and body, cursors aside), then 1-client closed-loop load of each
 * read through the built bundle under plain workerd and through the baseline, the same targets
 * in the same order on both sides, on loopback (3 interleaved rounds, rounds.ts: the median with
 * its spread) and under the distance profile (phases/distance.ts; one round), p50/p95 per read
 * and their ratio. Under
 * distance the list reads go once more through a Redis hop that serves their page script
 * (edge/core/reads/lists.ts, sent as EVAL) at the replica: what sending it as EVAL_RO would
 * give. Then freshness: for each kind of write (post, like, comment, follow, rename) through the
 * worker, the time from its 2xx to the first read by another user that shows it. And the serving
 * index's memory added by layout 4, by structure (from run.ts's per-key MEMORY USAGE, and a
 * sample of author hashes for their `_u` and `{post}:d` fields).
 */

import { dirname } from "node:path";
import { LIST_PAGE_LUA } from "#core/reads/lists.ts";
import { buildRequest } from "../../../edge/client/index.ts";
import { BENCH_RATE_LIMITS } from "../../lib/ratelimits.ts";
import { startPlainWorkerd } from "../../lib/workerd.ts";
import { type Bench, log, round, sleep } from "../context.ts";
import { type DelayProxy, startDelayProxy, upstashRequestWrites } from "../delay-proxy.ts";
import { closedLoop, type LoadResult, percentile } from "../load.ts";
import { info, latency, latencyRounds, ratioFigure, ratioRounds } from "../report.ts";
import { interleavedRounds, ROUNDS, recording } from "../rounds.ts";
import { PROFILE } from "./distance.ts";

/** Page sizes: every bulk-loaded author has 10 posts, so 5 leaves a next page for each. */
const POSTS_LIMIT = 5;
const LIST_LIMIT = 20;
/** Measured viewers (each with its own targets), and those that warm each runtime up first. */
const VIEWERS = 100;
const WARM = 30;
/** Loopback: requests per read, side and round (one pass over the targets), within --seconds; 3 rounds. */
const LOOPBACK_REQUESTS = 100;
/** Distance: one pass (the baseline pays ~170 ms a request), within twice --seconds; one round. */
const DISTANCE_REQUESTS = 100;
const TARGET_P95_MS = 15;
const RATIO_LOOPBACK = 2;
const RATIO_DISTANCE = 5;
const FRESHNESS_SAMPLES = 20;
const FRESHNESS_TARGET_MS = 2000;
const FRESHNESS_TIMEOUT_MS = 10_000;

const KINDS = ["profile", "postsFirst", "postsNext", "post", "comments", "followers", "following"] as const;
type Kind = (typeof KINDS)[number];
const LABEL: Record<Kind, string> = {
  profile: "profile",
  postsFirst: `author posts, first page (${POSTS_LIMIT})`,
  postsNext: `author posts, next page (${POSTS_LIMIT})`,
  post: "post",
  comments: `comments (${LIST_LIMIT})`,
  followers: `followers (${LIST_LIMIT})`,
  following: `following (${LIST_LIMIT})`,
};
/** The reads whose page is the list script (an EVAL). */
const LIST_KINDS: readonly Kind[] = ["postsFirst", "postsNext", "comments", "followers", "following"];

type Side = "ours" | "baseline";

interface Target {
  viewer: string;
  /** Someone the viewer follows. */
  user: string;
  /** A post with comments. */
  post: string;
  /** Each side's cursor after the first page of `user`'s posts (each side pages with its own). */
  cursor: Record<Side, string | null>;
}

export async function readsPhase(b: Bench): Promise<void> {
  const { plain, baseline, sample, auth, tokenOf, pool, figures, details, phaseSeconds } = b;
  const out: Record<string, unknown> = {};
  details.reads = out;

  out.memory = await layout4Memory(b);

  // ---------------------------------------------------------------- targets
  const viewers = [...sample.slice(0, VIEWERS), ...sample.slice(300, 300 + WARM)];
  const { rows: followees } = await pool.query<{ viewer: string; target: string }>(
    `SELECT DISTINCT ON (f.follower_id) f.follower_id::text AS viewer, f.followee_id::text AS target
     FROM follows f JOIN users u ON u.id = f.followee_id AND u.deleted_at IS NULL
     WHERE f.follower_id = ANY($1::uuid[]) AND f.deleted_at IS NULL
     ORDER BY f.follower_id, md5(f.followee_id::text || f.follower_id::text)`,
    [viewers],
  );
  const { rows: threads } = await pool.query<{ post: string }>(
    `SELECT c.post_id::text AS post FROM comments c JOIN posts p ON p.id = c.post_id AND p.deleted_at IS NULL
     WHERE c.deleted_at IS NULL ORDER BY md5(c.id::text) LIMIT $1`,
    [viewers.length * 2],
  );
  const followeeOf = new Map(followees.map((r) => [r.viewer, r.target]));
  const all: Target[] = [];
  viewers.forEach((viewer, i) => {
    const user = followeeOf.get(viewer);
    const post = threads[i]?.post;
    if (user && post) all.push({ viewer, user, post, cursor: { ours: null, baseline: null } });
  });
  for (const t of all) await tokenOf(t.viewer);

  const request = (base: string, side: Side, kind: Kind, t: Target) => {
    const headers = auth(t.viewer);
    switch (kind) {
      case "profile":
        return buildRequest({ baseUrl: base }, "getUser", { params: { id: t.user }, headers });
      case "postsFirst":
        return buildRequest({ baseUrl: base }, "getUserPosts", {
          params: { id: t.user },
          query: { limit: POSTS_LIMIT },
          headers,
        });
      case "postsNext":
        return buildRequest({ baseUrl: base }, "getUserPosts", {
          params: { id: t.user },
          query: { limit: POSTS_LIMIT, cursor: t.cursor[side] ?? undefined },
          headers,
        });
      case "post":
        return buildRequest({ baseUrl: base }, "getPost", { params: { id: t.post }, headers });
      case "comments":
        return buildRequest({ baseUrl: base }, "getComments", {
          params: { id: t.post },
          query: { limit: LIST_LIMIT },
          headers,
        });
      case "followers":
        return buildRequest({ baseUrl: base }, "getFollowers", {
          params: { id: t.user },
          query: { limit: LIST_LIMIT },
          headers,
        });
      case "following":
        return buildRequest({ baseUrl: base }, "getFollowing", {
          params: { id: t.user },
          query: { limit: LIST_LIMIT },
          headers,
        });
    }
  };
  const read = async (base: string, side: Side, kind: Kind, t: Target) => {
    const { url, init } = request(base, side, kind, t);
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {}
    return { status: res.status, body };
  };

  // ---------------------------------------------------------------- the same answers on both sides
  // Every read of every target on both sides, before any load: status and body, a list's
  // next_cursor aside (each side's own). A target any read of which is not a 200 on both sides
  // (the viewer blocked or blocks the user) is left out of the load.
  log(`reads: ${all.length} viewers with targets; checking both sides answer the same`);
  const base = { ours: plain.url, baseline: baseline.url };
  const mismatches: Record<Kind, number> = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  const examples: string[] = [];
  const usable: Target[] = [];
  for (const t of all) {
    let ok = true;
    for (const kind of KINDS) {
      if (kind === "postsNext" && (!t.cursor.ours || !t.cursor.baseline)) continue;
      const [o, s] = await Promise.all([read(base.ours, "ours", kind, t), read(base.baseline, "baseline", kind, t)]);
      if (kind === "postsFirst") {
        t.cursor = { ours: (o.body.next_cursor as string) ?? null, baseline: (s.body.next_cursor as string) ?? null };
      }
      const strip = (r: { status: number; body: Record<string, unknown> }) => {
        const { next_cursor: _, ...rest } = r.body;
        return JSON.stringify({ status: r.status, body: r.status === 200 ? rest : rest.error });
      };
      if (strip(o) !== strip(s)) {
        mismatches[kind]++;
        if (examples.length < 5)
          examples.push(
            `${kind} ${t.user}/${t.post} as ${t.viewer}:\n  ours     ${strip(o).slice(0, 400)}\n  baseline ${strip(s).slice(0, 400)}`,
          );
      }
      if (o.status !== 200 || s.status !== 200) ok = false;
    }
    if (ok) usable.push(t);
  }
  const measured = usable.filter((t) => sample.slice(0, VIEWERS).includes(t.viewer));
  const warm = usable.filter((t) => !measured.includes(t));
  const compared = all.length;
  out.targets = { viewers: compared, usable: usable.length, measured: measured.length, warm_up: warm.length };
  out.answers_differing = { by_read: mismatches, examples };
  const differing = Object.values(mismatches).reduce((a, n) => a + n, 0);
  for (const e of examples) log(`reads: the sides differ: ${e}`);
  figures.push({
    name: `reads: answers differing between the sides (${compared} viewers × ${KINDS.length} reads, cursors aside)`,
    ours: differing,
    baseline: null,
    ratio: null,
    target: "0",
    met: differing === 0,
  });
  if (measured.length < 20) throw new Error(`reads: only ${measured.length} usable targets`);

  // ---------------------------------------------------------------- load
  const targetsOf = (kind: Kind, ts: Target[]) =>
    kind === "postsNext" ? ts.filter((t) => t.cursor.ours && t.cursor.baseline) : ts;
  const warmUp = async (url: string, side: Side) => {
    for (const kind of KINDS) for (const t of targetsOf(kind, warm)) await read(url, side, kind, t);
  };
  const run = async (url: string, side: Side, kind: Kind, requests: number, durationMs: number) => {
    const ts = targetsOf(kind, measured);
    const rec = recording(
      (i) => {
        const t = ts[i % ts.length] as Target;
        return `${t.viewer}>${t.user}/${t.post}`;
      },
      (i) => request(url, side, kind, ts[i % ts.length] as Target),
    );
    const r = await closedLoop({ concurrency: 1, requests, durationMs, request: rec.request });
    return { value: r.result, asked: rec.asked };
  };
  type Pair = { ours: LoadResult[]; baseline: LoadResult[] };
  /**
   * Each read on both sides, read by read: `rounds` interleaved rounds (rounds.ts) of ours and
   * the baseline on the same targets in the same order (a run cut short by `durationMs` asks a
   * prefix of them).
   */
  const measure = async (
    urls: Record<Side, string>,
    requests: number,
    durationMs: number,
    rounds: number,
    kinds = KINDS,
  ) => {
    await warmUp(urls.ours, "ours");
    await warmUp(urls.baseline, "baseline");
    const res = {} as Record<Kind, Pair>;
    for (const kind of kinds) {
      res[kind] = await interleavedRounds({
        what: `read ${LABEL[kind]}`,
        sides: ["ours", "baseline"] as const,
        rounds,
        prefix: true,
        run: (side) => run(urls[side], side, kind, requests, durationMs),
      });
      const [o, t] = [res[kind].ours, res[kind].baseline];
      log(
        `reads ${LABEL[kind]}: ours p95 ${o.map((r) => r.p95_ms).join(" / ")} ms, baseline ${t.map((r) => r.p95_ms).join(" / ")} ms (by round)`,
      );
    }
    return res;
  };
  const allOk = (r: LoadResult) => (r.status["200"] ?? 0) === r.requests;

  log("reads on loopback: plain workerd and the baseline, 1 client, the same viewers and targets");
  const loopback = await measure(base, LOOPBACK_REQUESTS, phaseSeconds * 1000, ROUNDS);
  out.loopback = loopback;

  log(`reads under the distance profile ${JSON.stringify(PROFILE)}`);
  const region = await startDelayProxy({ target: baseline.url, oneWayMs: PROFILE.userToRegion });
  let distance: Record<Kind, Pair> | null = null;
  const evalRo: Partial<Record<Kind, LoadResult>> = {};
  try {
    const far = await startFarWorker(b);
    try {
      distance = await measure({ ours: far.url, baseline: region.url }, DISTANCE_REQUESTS, 2 * phaseSeconds * 1000, 1);
      out.distance = {
        one_way_delays_ms: PROFILE,
        reads: Object.fromEntries(
          Object.entries(distance).map(([k, p]) => [k, { ours: p.ours[0], baseline: p.baseline[0] }]),
        ),
        redis_requests_by_one_way_ms: far.redisCounts(),
      };
    } finally {
      await far.stop();
    }
    // The list reads again, their page script served at the replica (as EVAL_RO would be).
    const ro = await startFarWorker(b, new Set([LIST_PAGE_LUA]));
    try {
      await warmUp(ro.url, "ours");
      for (const kind of LIST_KINDS)
        evalRo[kind] = (await run(ro.url, "ours", kind, DISTANCE_REQUESTS, 2 * phaseSeconds * 1000)).value;
      out.distance_list_script_at_replica = { ...evalRo, redis_requests_by_one_way_ms: ro.redisCounts() };
    } finally {
      await ro.stop();
    }
  } finally {
    await region.close();
  }

  if (!distance) throw new Error("reads: no distance figures");
  const dist = distance;
  const failed = [
    ...Object.entries(loopback).flatMap(([k, p]) => ([...p.ours, ...p.baseline].every(allOk) ? [] : [`loopback ${k}`])),
    ...Object.entries(dist).flatMap(([k, p]) => ([...p.ours, ...p.baseline].every(allOk) ? [] : [`distance ${k}`])),
  ];
  out.not_all_200 = failed;

  for (const kind of KINDS) {
    const l = loopback[kind];
    const p = (rs: LoadResult[], k: "p50_ms" | "p95_ms") => rs.map((r) => r[k]);
    figures.push(
      latencyRounds(
        `read ${LABEL[kind]} p50 (ms), plain workerd, loopback`,
        p(l.ours, "p50_ms"),
        p(l.baseline, "p50_ms"),
      ),
      latencyRounds(
        `read ${LABEL[kind]} p95 (ms), plain workerd, loopback`,
        p(l.ours, "p95_ms"),
        p(l.baseline, "p95_ms"),
        TARGET_P95_MS,
      ),
      ratioRounds(
        `read ${LABEL[kind]} p95, loopback: baseline ÷ ours (×)`,
        p(l.baseline, "p95_ms"),
        p(l.ours, "p95_ms"),
        RATIO_LOOPBACK,
      ),
    );
  }
  for (const kind of KINDS) {
    // One round under distance (a pass costs the baseline ~170 ms a request).
    const d = { ours: dist[kind].ours[0] as LoadResult, baseline: dist[kind].baseline[0] as LoadResult };
    figures.push(
      latency(`read ${LABEL[kind]} p50 (ms), distance profile`, d.ours.p50_ms, d.baseline.p50_ms),
      latency(`read ${LABEL[kind]} p95 (ms), distance profile`, d.ours.p95_ms, d.baseline.p95_ms),
      ratioFigure(
        `read ${LABEL[kind]} p95, distance profile: baseline ÷ ours (×)`,
        d.baseline.p95_ms,
        d.ours.p95_ms,
        RATIO_DISTANCE,
      ),
    );
  }
  for (const kind of LIST_KINDS) {
    const r = evalRo[kind] as LoadResult;
    const theirs = dist[kind].baseline[0] as LoadResult;
    figures.push(
      latency(
        `read ${LABEL[kind]} p95 (ms), distance profile, page script at the replica (as EVAL_RO)`,
        r.p95_ms,
        theirs.p95_ms,
      ),
    );
  }

  // ---------------------------------------------------------------- freshness
  log(`reads: freshness, ${FRESHNESS_SAMPLES} writes of each kind through the worker, read by another user`);
  out.freshness = await freshness(b, measured);
  for (const [kind, f] of Object.entries(out.freshness as Record<string, Freshness>)) {
    figures.push(info(`freshness: ${kind} → another user's read p50 (ms)`, f.p50_ms), {
      name: `freshness: ${kind} → another user's read p95 (ms), ${f.samples} writes`,
      ours: f.p95_ms,
      baseline: null,
      ratio: null,
      target: `≤ ${FRESHNESS_TARGET_MS} ms`,
      met: f.p95_ms <= FRESHNESS_TARGET_MS && f.timed_out === 0,
    });
  }
  const mem = out.memory as Layout4Memory;
  figures.push(
    info("serving index, what layout 4 (the reads) adds: total (MiB)", round(mem.total_bytes / 2 ** 20, 1)),
    info(
      "serving index, layout 4 per user: profiles, handles, followers/following, recent likes (bytes)",
      mem.per_user_bytes,
    ),
    info("serving index, layout 4 per post: author post ids, comments, _u and {post}:d (bytes)", mem.per_post_bytes),
  );
}

// ---------------------------------------------------------------- distance

/** The built bundle under plain workerd behind the distance profile's hops (as phases/distance.ts). */
async function startFarWorker(
  b: Bench,
  readOnlyScripts: ReadonlySet<string> = new Set(),
): Promise<{ url: string; redisCounts(): Record<string, number>; stop(): Promise<void> }> {
  const { edgeVars } = b;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const redisHop: DelayProxy = await startDelayProxy({
      target: edgeVars.UPSTASH_REDIS_REST_URL as string,
      oneWayMs: (req, body) =>
        upstashRequestWrites(req.url ?? "/", body, readOnlyScripts)
          ? PROFILE.edgeToRedisPrimary
          : PROFILE.edgeToRedisReplica,
    });
    stops.push(() => redisHop.close());
    const chHop = await startDelayProxy({
      target: edgeVars.CLICKHOUSE_URL as string,
      oneWayMs: PROFILE.edgeToClickHouse,
    });
    stops.push(() => chHop.close());
    const originHop = await startDelayProxy({ target: edgeVars.ORIGIN_URL as string, oneWayMs: PROFILE.edgeToOrigin });
    stops.push(() => originHop.close());
    const worker = await startPlainWorkerd(
      {
        ...edgeVars,
        UPSTASH_REDIS_REST_URL: redisHop.url,
        CLICKHOUSE_URL: chHop.url,
        ORIGIN_URL: originHop.url,
        CLICKHOUSE_USER: "default",
        REDIS_TIMEOUT_MS: "1000",
        CLICKHOUSE_TIMEOUT_MS: "3000",
      },
      { bundleDir: dirname(b.bundleEntry), rateLimits: BENCH_RATE_LIMITS },
    );
    stops.push(() => worker.stop());
    const edge = await startDelayProxy({ target: worker.url, oneWayMs: PROFILE.userToEdge });
    stops.push(() => edge.close());
    return { url: edge.url, redisCounts: () => Object.fromEntries(redisHop.counts), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------- freshness

interface Freshness {
  samples: number;
  timed_out: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
  /** Reads the other user made per write until one showed it (mean). */
  mean_polls: number;
}

/**
 * For each kind of write, FRESHNESS_SAMPLES writes through the worker (plain workerd, loopback),
 * each by a writer and read by another user (a reader), from the write's 2xx to the end of the
 * first read that shows it: the reader reads back to back, 10 ms apart.
 */
async function freshness(b: Bench, targets: Target[]): Promise<Record<string, Freshness>> {
  const { plain, sample, auth, tokenOf } = b;
  const writers = sample.slice(100, 200);
  const readers = sample.slice(200, 300);
  for (const u of [...writers, ...readers]) await tokenOf(u);
  const call = async (user: string, method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = { ...auth(user) };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${plain.url}${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {}
    return { status: res.status, body: json };
  };
  /** ms from now until `shows` is true of the reader's read (null on timeout), and the reads made. */
  const until = async (reader: string, path: string, shows: (body: Record<string, unknown>) => boolean) => {
    const t0 = performance.now();
    let polls = 0;
    for (;;) {
      const r = await call(reader, "GET", path);
      polls++;
      if (r.status === 200 && shows(r.body)) return { ms: performance.now() - t0, polls };
      if (performance.now() - t0 > FRESHNESS_TIMEOUT_MS) return { ms: null, polls };
      await sleep(10);
    }
  };
  const items = (body: Record<string, unknown>) => (body.items as Record<string, unknown>[] | undefined) ?? [];
  type Sample = { ms: number | null; polls: number } | null;
  const kinds: Record<string, (w: string, r: string, t: Target, n: number) => Promise<Sample>> = {
    post: async (w, r, _t, n) => {
      if ((await call(r, "GET", `/api/v1/users/${w}`)).status !== 200) return null;
      const res = await call(w, "POST", "/api/v1/posts", { text: `freshness post ${n}` });
      if (res.status !== 201) return null;
      const id = (res.body.post as { id: string }).id;
      return until(r, `/api/v1/users/${w}/posts?limit=1`, (body) => items(body)[0]?.post_id === id);
    },
    like: async (w, r, t) => {
      const [mine, theirs] = [
        await call(w, "GET", `/api/v1/posts/${t.post}`),
        await call(r, "GET", `/api/v1/posts/${t.post}`),
      ];
      if (mine.status !== 200 || theirs.status !== 200 || (mine.body.viewer as { liked: boolean }).liked) return null;
      const before = (theirs.body.counts as { likes: number }).likes;
      if ((await call(w, "PUT", `/api/v1/posts/${t.post}/like`)).status !== 204) return null;
      return until(r, `/api/v1/posts/${t.post}`, (body) => (body.counts as { likes: number }).likes === before + 1);
    },
    comment: async (w, r, t, n) => {
      if ((await call(r, "GET", `/api/v1/posts/${t.post}`)).status !== 200) return null;
      const res = await call(w, "POST", `/api/v1/posts/${t.post}/comments`, { text: `freshness comment ${n}` });
      if (res.status !== 201) return null;
      const id = (res.body.comment as { id: string }).id;
      return until(
        r,
        `/api/v1/posts/${t.post}/comments?order=newest&limit=1`,
        (body) => items(body)[0]?.comment_id === id,
      );
    },
    follow: async (w, r, t) => {
      if (t.user === w) return null;
      const [mine, theirs] = [
        await call(w, "GET", `/api/v1/users/${t.user}`),
        await call(r, "GET", `/api/v1/users/${t.user}`),
      ];
      if (mine.status !== 200 || theirs.status !== 200 || (mine.body.viewer as { following: boolean }).following)
        return null;
      if ((await call(r, "GET", `/api/v1/users/${w}`)).status !== 200) return null;
      if ((await call(w, "PUT", `/api/v1/follows/${t.user}`)).status !== 204) return null;
      return until(r, `/api/v1/users/${t.user}/followers?limit=1`, (body) => items(body)[0]?.id === w);
    },
    rename: async (w, r, _t, n) => {
      const me = await call(w, "GET", "/api/v1/users/me");
      if (me.status !== 200 || (await call(r, "GET", `/api/v1/users/${w}`)).status !== 200) return null;
      const handle = `f${n}_${String(me.body.handle)}`.slice(0, 32);
      const name = `Renamed ${n}`;
      if ((await call(w, "PUT", "/api/v1/users/me", { handle, display_name: name })).status !== 200) return null;
      return until(r, `/api/v1/users/${w}`, (body) => body.handle === handle && body.display_name === name);
    },
  };
  const out: Record<string, Freshness> = {};
  let n = 0;
  for (const [kind, write] of Object.entries(kinds)) {
    const ms: number[] = [];
    const polls: number[] = [];
    let timedOut = 0;
    for (let k = 0; ms.length + timedOut < FRESHNESS_SAMPLES && k < writers.length; k++) {
      n++;
      const w = writers[(n * 7) % writers.length] as string;
      const r = readers[(n * 11) % readers.length] as string;
      const t = targets[n % targets.length] as Target;
      const s = await write(w, r, t, n);
      if (!s) continue;
      polls.push(s.polls);
      if (s.ms === null) timedOut++;
      else ms.push(s.ms);
    }
    ms.sort((a, c) => a - c);
    out[kind] = {
      samples: ms.length + timedOut,
      timed_out: timedOut,
      p50_ms: round(percentile(ms, 0.5), 1),
      p95_ms: timedOut ? FRESHNESS_TIMEOUT_MS : round(percentile(ms, 0.95), 1),
      max_ms: timedOut ? FRESHNESS_TIMEOUT_MS : round(ms[ms.length - 1] ?? 0, 1),
      mean_polls: round(polls.reduce((a, c) => a + c, 0) / Math.max(1, polls.length), 1),
    };
    log(`reads freshness ${kind}: ${JSON.stringify(out[kind])}`);
  }
  return out;
}

// ---------------------------------------------------------------- memory

interface Layout4Memory {
  users: number;
  posts: number;
  /** Per structure: bytes (MEMORY USAGE of every key), keys, bytes per user and per post. */
  structures: Record<string, { bytes: number; keys: number; per_user: number; per_post: number }>;
  total_bytes: number;
  /** The user-bound structures (profiles, handles, followers/following, recent likes) per user. */
  per_user_bytes: number;
  /** The post-bound ones (author post ids, comments and bodies, the author-hash fields) per post. */
  per_post_bytes: number;
  /** How the author-hash fields were estimated. */
  author_hash_sample: { hashes: number; of: number; card_fields: number; plain_total_fields: number; bytes: number };
}

/**
 * What layout 4 added to the serving index, by structure: the keys of its own (profiles,
 * handles, followers, following, author post ids, recent likes, comments and their bodies) from
 * run.ts's MEMORY USAGE of every key (details.index.memory), and its fields in the author hashes
 * (`_u`, `{post}:d`) estimated on a sample: each sampled hash copied twice into scratch keys, with
 * and without those fields, the difference of their MEMORY USAGE scaled to every author hash.
 */
async function layout4Memory(b: Bench): Promise<Layout4Memory> {
  const { redis, pool, keys, details } = b;
  const mem = ((details.index as { memory?: Record<string, number> } | undefined)?.memory ?? {}) as Record<
    string,
    number
  >;
  const { rows } = await pool.query<{ users: number; posts: number }>(
    "SELECT (SELECT count(*) FROM users WHERE deleted_at IS NULL)::int AS users, (SELECT count(*) FROM posts WHERE deleted_at IS NULL)::int AS posts",
  );
  const users = rows[0]?.users ?? 1;
  const posts = rows[0]?.posts ?? 1;
  const classes: Record<string, string[]> = {
    "profiles (fi:u)": ["u"],
    "handles (fi:hd)": ["hd"],
    "followers + following (fi:fr, fi:fg)": ["fr", "fg"],
    "author post ids (fi:ua)": ["ua"],
    "recent likes (fi:lk)": ["lk"],
    "comments + bodies (fi:cm, fi:ct)": ["cm", "ct"],
  };
  const structures: Layout4Memory["structures"] = {};
  const entry = (bytes: number, n: number) => ({
    bytes,
    keys: n,
    per_user: round(bytes / users, 1),
    per_post: round(bytes / posts, 1),
  });
  for (const [name, cls] of Object.entries(classes)) {
    const bytes = cls.reduce((a, c) => a + (mem[`${c}_bytes`] ?? 0), 0);
    const n = cls.reduce((a, c) => a + (mem[`${c}_keys`] ?? 0), 0);
    structures[name] = entry(bytes, n);
  }
  // The author hashes' `_u` and `{post}:d`, on a sample of up to 2000 hashes.
  const prefix = `${keys.prefix}ap:`;
  const sampled: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 2000);
    cursor = next;
    sampled.push(...found);
  } while (cursor !== "0" && sampled.length < 2000);
  const scratch = `bench:mem-sample:${Date.now()}:`;
  let extra = 0;
  let cardFields = 0;
  let plainFields = 0;
  for (const [i, key] of sampled.slice(0, 2000).entries()) {
    const h = await redis.hgetall(key);
    const fields = Object.entries(h);
    const without = fields.filter(([f]) => f !== "_u" && !f.endsWith(":d"));
    cardFields += fields.some(([f]) => f === "_u") ? 1 : 0;
    plainFields += fields.filter(([f]) => f.endsWith(":d")).length;
    const a = `${scratch}${i}:a`;
    const c = `${scratch}${i}:b`;
    if (fields.length) await redis.hset(a, Object.fromEntries(fields));
    if (without.length) await redis.hset(c, Object.fromEntries(without));
    const [ma, mc] = await Promise.all([
      redis.memory("USAGE", a, "SAMPLES", "0"),
      redis.memory("USAGE", c, "SAMPLES", "0"),
    ]);
    extra += Number(ma ?? 0) - Number(mc ?? 0);
    await redis.del(a, c);
  }
  const n = Math.min(2000, sampled.length);
  const apKeys = mem.ap_keys ?? n;
  const authorFields = n ? Math.round((extra / n) * apKeys) : 0;
  structures["author hashes: _u and {post}:d (fi:ap, estimated)"] = entry(authorFields, apKeys);
  const total = Object.values(structures).reduce((a, s) => a + s.bytes, 0);
  const sum = (names: string[]) => names.reduce((a, k) => a + (structures[k]?.bytes ?? 0), 0);
  const userBound = sum([
    "profiles (fi:u)",
    "handles (fi:hd)",
    "followers + following (fi:fr, fi:fg)",
    "recent likes (fi:lk)",
  ]);
  const out: Layout4Memory = {
    users,
    posts,
    structures,
    total_bytes: total,
    per_user_bytes: round(userBound / users, 0),
    per_post_bytes: round((total - userBound) / posts, 0),
    author_hash_sample: {
      hashes: n,
      of: apKeys,
      card_fields: cardFields,
      plain_total_fields: plainFields,
      bytes: extra,
    },
  };
  log(`reads: layout-4 memory ${JSON.stringify(out)}`);
  return out;
}
