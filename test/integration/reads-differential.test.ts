/**
 * The read side against its source of truth: after a randomized mix of writes through the real
 * worker (posts and their deletion, likes and unlikes, comments and their deletion, follows and
 * unfollows, blocks and unblocks, renames), posts older than the index's window written straight
 * into PostgreSQL, and a user deletion, every read of every viewer (profiles, an author's posts
 * page by page, each post, its comments, followers and following) equals what PostgreSQL says,
 * item for item. The pipeline runs whole: worker → origin → PostgreSQL → Debezium → Kafka → the
 * serving index (and the sink → ClickHouse, for the old posts).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rng } from "../../scripts/lib/rng.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

const SEED = Number(process.env.READS_SEED ?? 20261207);
const OPS = 160;

interface Card {
  id: string;
  handle: string;
  display_name: string;
}
interface PostOut {
  post_id: string;
  author_id: string;
  author: Card;
  created_at: string;
  text: string;
  counts: { likes: number; comments: number; shares: number };
  viewer: { liked: boolean; following_author: boolean } | null;
}
interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

describe("the read side equals PostgreSQL after random writes", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const users = Array.from({ length: 7 }, () => randomUUID());
  const rand = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

  const get = async <T>(user: string, path: string): Promise<{ status: number; body: T }> => {
    const res = await w.api(user, "GET", path);
    return { status: res.status, body: (await res.json()) as T };
  };
  /** Every page of a list, `limit` at a time. */
  const all = async <T>(user: string, path: string, limit: number): Promise<{ status: number; items: T[] }> => {
    const items: T[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 200; i++) {
      const sep = path.includes("?") ? "&" : "?";
      const r: { status: number; body: Page<T> } = await get<Page<T>>(
        user,
        `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`,
      );
      if (r.status !== 200) return { status: r.status, items: [] };
      items.push(...r.body.items);
      cursor = r.body.next_cursor;
      if (!cursor) break;
    }
    return { status: 200, items };
  };

  // ---- what PostgreSQL says -------------------------------------------------------------------
  const q = async <T>(sql: string, params: unknown[] = []) => (await h.pg.query(sql, params)).rows as T[];
  const ms = "floor(extract(epoch from date_trunc('milliseconds', %s)) * 1000)::bigint";
  const at = (col: string) => ms.replace("%s", col);

  async function truth() {
    const live = new Map(
      (
        await q<{ id: string; handle: string; display_name: string; bio: string; c: string }>(
          `SELECT id::text, handle, display_name, bio, ${at("created_at")} AS c FROM users WHERE deleted_at IS NULL AND id = ANY($1)`,
          [users],
        )
      ).map((u) => [u.id, u]),
    );
    const blocks = await q<{ a: string; b: string }>(
      "SELECT blocker_id::text AS a, blocked_id::text AS b FROM blocks WHERE deleted_at IS NULL",
    );
    const blocked = (x: string, y: string) =>
      x !== y && blocks.some((b) => (b.a === x && b.b === y) || (b.a === y && b.b === x));
    const follows = await q<{ a: string; b: string; c: string }>(
      `SELECT follower_id::text AS a, followee_id::text AS b, ${at("created_at")} AS c FROM follows WHERE deleted_at IS NULL`,
    );
    const follows_ = (x: string, y: string) => follows.some((f) => f.a === x && f.b === y);
    const posts = await q<{ id: string; author: string; text: string; c: string }>(
      `SELECT id::text, author_id::text AS author, text, ${at("created_at")} AS c FROM posts WHERE deleted_at IS NULL AND author_id = ANY($1)`,
      [users],
    );
    const likes = await q<{ u: string; p: string }>(
      "SELECT user_id::text AS u, post_id::text AS p FROM likes WHERE deleted_at IS NULL",
    );
    const comments = await q<{ id: string; p: string; u: string; text: string; c: string }>(
      `SELECT id::text, post_id::text AS p, author_id::text AS u, text, ${at("created_at")} AS c FROM comments WHERE deleted_at IS NULL`,
    );
    const visible = (viewer: string, target: string) => live.has(target) && !blocked(viewer, target);
    const card = (id: string): Card => {
      const u = live.get(id);
      return { id, handle: u?.handle ?? "", display_name: u?.display_name ?? "" };
    };
    const desc = (x: { c: string; id: string }, y: { c: string; id: string }) =>
      Number(y.c) - Number(x.c) || (y.id > x.id ? 1 : y.id < x.id ? -1 : 0);
    const postOut = (viewer: string, p: (typeof posts)[number]): PostOut => ({
      post_id: p.id,
      author_id: p.author,
      author: card(p.author),
      created_at: new Date(Number(p.c)).toISOString(),
      text: p.text,
      counts: {
        likes: likes.filter((l) => l.p === p.id).length,
        comments: comments.filter((c) => c.p === p.id).length,
        shares: 0,
      },
      viewer: {
        liked: likes.some((l) => l.p === p.id && l.u === viewer),
        following_author: p.author !== viewer && follows_(viewer, p.author),
      },
    });
    return {
      profile(viewer: string, t: string) {
        if (!visible(viewer, t)) return null;
        const u = live.get(t) as NonNullable<ReturnType<typeof live.get>>;
        const self = viewer === t;
        return {
          id: t,
          handle: u.handle,
          display_name: u.display_name,
          bio: u.bio,
          created_at: new Date(Number(u.c)).toISOString(),
          counts: {
            followers: follows.filter((f) => f.b === t).length,
            following: follows.filter((f) => f.a === t).length,
            posts: posts.filter((p) => p.author === t).length,
          },
          viewer: self
            ? { following: false, followed_by: false, blocking: false }
            : { following: follows_(viewer, t), followed_by: follows_(t, viewer), blocking: false },
        };
      },
      posts(viewer: string, t: string) {
        if (!visible(viewer, t)) return null;
        return posts
          .filter((p) => p.author === t)
          .sort(desc)
          .map((p) => postOut(viewer, p));
      },
      post(viewer: string, id: string) {
        const p = posts.find((x) => x.id === id);
        return p && visible(viewer, p.author) ? postOut(viewer, p) : null;
      },
      comments(viewer: string, postId: string) {
        const p = posts.find((x) => x.id === postId);
        if (!p || !visible(viewer, p.author)) return null;
        return comments
          .filter((c) => c.p === postId && live.has(c.u) && !blocked(viewer, c.u))
          .sort((x, y) => -desc(x, y))
          .map((c) => ({
            comment_id: c.id,
            post_id: postId,
            author: card(c.u),
            created_at: new Date(Number(c.c)).toISOString(),
            text: c.text,
          }));
      },
      graph(viewer: string, t: string, kind: "followers" | "following") {
        if (!visible(viewer, t)) return null;
        return follows
          .filter((f) => (kind === "followers" ? f.b === t : f.a === t))
          .map((f) => ({ id: kind === "followers" ? f.a : f.b, c: f.c }))
          .filter((x) => live.has(x.id) && !blocked(viewer, x.id))
          .sort(desc)
          .map((x) => ({
            ...card(x.id),
            viewer: { following: follows_(viewer, x.id), followed_by: follows_(x.id, viewer) },
          }));
      },
      postIds: () => posts.map((p) => p.id),
      allPostIds: async () =>
        (await q<{ id: string }>("SELECT id::text FROM posts WHERE author_id = ANY($1)", [users])).map((r) => r.id),
      liveUsers: () => [...live.keys()],
    };
  }

  /** Every read of every viewer against PostgreSQL; the differences, described. */
  async function differences(): Promise<string[]> {
    const t = await truth();
    const diffs: string[] = [];
    const same = (what: string, got: unknown, want: unknown) => {
      if (JSON.stringify(got) === JSON.stringify(want)) return;
      if (Array.isArray(got) && Array.isArray(want)) {
        // Say where the lists part: the first item that differs, and the lengths.
        const i = got.findIndex((g, k) => JSON.stringify(g) !== JSON.stringify(want[k]));
        const at = i < 0 ? Math.min(got.length, want.length) : i;
        diffs.push(
          `${what}: ${got.length} items, want ${want.length}; item ${at}: got ${JSON.stringify(got[at])} want ${JSON.stringify(want[at])}`,
        );
        return;
      }
      diffs.push(`${what}: got ${JSON.stringify(got)?.slice(0, 400)} want ${JSON.stringify(want)?.slice(0, 400)}`);
    };
    const viewers = t.liveUsers();
    const postIds = await t.allPostIds();
    for (const v of viewers) {
      for (const u of users) {
        const p = await get<unknown>(v, `/api/v1/users/${u}`);
        same(`profile ${u} as ${v}`, p.status === 200 ? p.body : null, t.profile(v, u));
        const posts = await all<PostOut>(v, `/api/v1/users/${u}/posts`, 3);
        same(`posts of ${u} as ${v}`, posts.status === 200 ? posts.items : null, t.posts(v, u));
        for (const kind of ["followers", "following"] as const) {
          const g = await all<unknown>(v, `/api/v1/users/${u}/${kind}`, 2);
          same(`${kind} of ${u} as ${v}`, g.status === 200 ? g.items : null, t.graph(v, u, kind));
        }
      }
      for (const id of postIds) {
        const p = await get<PostOut>(v, `/api/v1/posts/${id}`);
        same(`post ${id} as ${v}`, p.status === 200 ? p.body : null, t.post(v, id));
        const c = await all<unknown>(v, `/api/v1/posts/${id}/comments`, 2);
        same(`comments of ${id} as ${v}`, c.status === 200 ? c.items : null, t.comments(v, id));
      }
      if (diffs.length > 20) break;
    }
    return diffs;
  }

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true });
    for (const [i, u] of users.entries()) {
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `rd${h.id}_${i}`, display_name: `User ${i}` }), 200);
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
  }, 300_000);

  afterAll(async () => {
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it(`a random mix of ${OPS} writes (seed ${SEED}): every read equals PostgreSQL, item for item`, async () => {
    const posts: { id: string; author: string }[] = [];
    const comments: { id: string; author: string }[] = [];
    const counts: Record<string, number> = {};
    const did = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
    const live = new Set(users);
    const someone = () => pick(users.filter((u) => live.has(u)));
    for (let i = 0; i < OPS; i++) {
      const u = someone();
      const r = rand();
      if (r < 0.22 || posts.length < 3) {
        const res = await w.api(u, "POST", "/api/v1/posts", { text: `post ${i} by ${u.slice(0, 4)}` });
        if (res.status === 201) {
          posts.push({ id: ((await res.json()) as { post: { id: string } }).post.id, author: u });
          did("post");
        }
      } else if (r < 0.36) {
        const p = pick(posts);
        const unlike = rand() < 0.3;
        await w.api(u, unlike ? "DELETE" : "PUT", `/api/v1/posts/${p.id}/like`);
        did(unlike ? "unlike" : "like");
      } else if (r < 0.48) {
        const p = pick(posts);
        const res = await w.api(u, "POST", `/api/v1/posts/${p.id}/comments`, { text: `comment ${i}` });
        if (res.status === 201) {
          comments.push({ id: ((await res.json()) as { comment: { id: string } }).comment.id, author: u });
          did("comment");
        }
      } else if (r < 0.53 && comments.length) {
        const c = pick(comments);
        if ((await w.api(c.author, "DELETE", `/api/v1/comments/${c.id}`)).status === 204) did("comment deletion");
      } else if (r < 0.7) {
        const other = pick(users.filter((x) => x !== u));
        const unfollow = rand() < 0.25;
        await w.api(u, unfollow ? "DELETE" : "PUT", `/api/v1/follows/${other}`);
        did(unfollow ? "unfollow" : "follow");
      } else if (r < 0.77) {
        const other = pick(users.filter((x) => x !== u));
        const unblock = rand() < 0.4;
        await w.api(u, unblock ? "DELETE" : "PUT", `/api/v1/blocks/${other}`);
        did(unblock ? "unblock" : "block");
      } else if (r < 0.84) {
        const idx = users.indexOf(u);
        await w.ok(
          w.api(u, "PUT", "/api/v1/users/me", {
            handle: `rd${h.id}_${idx}_${i}`,
            display_name: `Renamed ${i}`,
            bio: `bio ${i}`,
          }),
          200,
        );
        did("rename");
      } else if (r < 0.9) {
        const mine = posts.filter((p) => p.author === u);
        if (mine.length) {
          const p = pick(mine);
          if ((await w.api(u, "DELETE", `/api/v1/posts/${p.id}`)).status === 204) did("post deletion");
        }
      } else if (r < 0.95) {
        // A post older than the index's window: the read side takes it from ClickHouse.
        const days = 9 + Math.floor(rand() * 30);
        const { rows } = await h.pg.query<{ id: string }>(
          `INSERT INTO posts (author_id, text, created_at) VALUES ($1, $2, now() - make_interval(days => $3)) RETURNING id::text`,
          [u, `old post ${i}`, days],
        );
        posts.push({ id: (rows[0] as { id: string }).id, author: u });
        did("old post");
      } else {
        const p = pick(posts);
        await w.api(u, "PUT", `/api/v1/posts/${p.id}/like`);
        did("like");
      }
    }
    // Cases a random mix may miss, made sure of: two standing blocks, an author's like of their
    // own post (plain totals count it), and the user about to go has a comment and a follow.
    const gone = pick(users.filter((u) => live.has(u)));
    const others = users.filter((u) => u !== gone);
    await w.ok(w.api(others[0] as string, "PUT", `/api/v1/blocks/${others[1]}`), 204);
    await w.ok(w.api(others[3] as string, "PUT", `/api/v1/blocks/${others[2]}`), 204);
    const own = posts.find((p) => p.author !== gone);
    if (own) await w.api(own.author, "PUT", `/api/v1/posts/${own.id}/like`);
    const target = posts.find((p) => p.author !== gone);
    if (target) await w.api(gone, "POST", `/api/v1/posts/${target.id}/comments`, { text: "from someone who leaves" });
    await w.api(gone, "PUT", `/api/v1/follows/${others[0]}`);
    did("made sure of");
    // One user goes (there is no API for it: the way an operator would).
    await h.pg.query("UPDATE users SET deleted_at = now() WHERE id = $1", [gone]);
    live.delete(gone);
    did("user deletion");
    console.log(`writes (seed ${SEED}):`, JSON.stringify(counts));

    let last: string[] = [];
    const t0 = Date.now();
    await waitFor(
      async () => {
        last = await differences();
        return last.length === 0;
      },
      60_000,
      "the reads to equal PostgreSQL",
    ).catch(() => {});
    console.log(`reads equal PostgreSQL after ${Date.now() - t0} ms`);
    expect(last).toEqual([]);
  }, 600_000);
});
