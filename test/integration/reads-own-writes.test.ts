/**
 * The read side through the real worker, as a writer and as a pager meets it:
 * - a writer reads their own writes: their new post, comment, like, follow or rename is in the
 *   reads of their very next request (the origin writes each committed change through to the
 *   serving index; CDC brings the same change ~1 s later);
 * - paging an author's posts, a post's comments and a user's followers while new ones arrive
 *   never repeats or skips an entry.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

describe("reads of one's own writes, and paging while lists grow", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  const writer = randomUUID();
  const author = randomUUID();
  const fans = Array.from({ length: 8 }, () => randomUUID());

  const json = async <T>(user: string, path: string): Promise<T> => {
    const res = await w.ok(w.api(user, "GET", path), 200);
    return (await res.json()) as T;
  };
  const post = async (by: string, text: string) => {
    const r = await w.ok(w.api(by, "POST", "/api/v1/posts", { text }), 201);
    return ((await r.json()) as { post: { id: string } }).post.id;
  };

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true });
    for (const [i, u] of [writer, author, ...fans].entries()) {
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `ow${h.id}_${i}` }), 200);
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
  }, 300_000);

  afterAll(async () => {
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  it("a writer's next request shows their post, comment, like, unlike, follow and rename", async () => {
    const id = await post(writer, "my first post");
    const mine = await json<Page<{ post_id: string }>>(writer, "/api/v1/users/me/posts?limit=5");
    expect(mine.items[0]?.post_id).toBe(id);

    const c = await w.ok(w.api(writer, "POST", `/api/v1/posts/${id}/comments`, { text: "first!" }), 201);
    const commentId = ((await c.json()) as { comment: { id: string } }).comment.id;
    const thread = await json<Page<{ comment_id: string }>>(writer, `/api/v1/posts/${id}/comments`);
    expect(thread.items.map((i) => i.comment_id)).toEqual([commentId]);

    await w.ok(w.api(writer, "PUT", `/api/v1/posts/${id}/like`), 204);
    const liked = await json<{ counts: { likes: number; comments: number }; viewer: { liked: boolean } }>(
      writer,
      `/api/v1/posts/${id}`,
    );
    expect(liked.viewer.liked).toBe(true);
    expect(liked.counts).toMatchObject({ likes: 1, comments: 1 });
    await w.ok(w.api(writer, "DELETE", `/api/v1/posts/${id}/like`), 204);
    expect((await json<{ viewer: { liked: boolean } }>(writer, `/api/v1/posts/${id}`)).viewer.liked).toBe(false);

    await w.ok(w.api(writer, "PUT", `/api/v1/follows/${author}`), 204);
    const following = await json<Page<{ id: string }>>(writer, "/api/v1/users/me/following");
    expect(following.items.map((u) => u.id)).toContain(author);
    const profile = await json<{ viewer: { following: boolean }; counts: { followers: number } }>(
      writer,
      `/api/v1/users/${author}`,
    );
    expect(profile.viewer.following).toBe(true);

    await w.ok(
      w.api(writer, "PUT", "/api/v1/users/me", { handle: `ow${h.id}_renamed`, display_name: "New Name" }),
      200,
    );
    const me = await json<{ handle: string; display_name: string }>(writer, "/api/v1/users/me");
    expect(me).toMatchObject({ handle: `ow${h.id}_renamed`, display_name: "New Name" });
    const byHandle = await json<{ id: string }>(writer, `/api/v1/users/@ow${h.id}_renamed`);
    expect(byHandle.id).toBe(writer);
  });

  it("paging an author's posts, a thread and a follower list while new entries arrive: 0 repeats, 0 skips", async () => {
    const initialPosts: string[] = [];
    for (let i = 0; i < 9; i++) initialPosts.push(await post(author, `initial ${i}`));
    const target = initialPosts[0] as string;
    const initialComments: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await w.ok(
        w.api(fans[i % fans.length] as string, "POST", `/api/v1/posts/${target}/comments`, { text: `c${i}` }),
        201,
      );
      initialComments.push(((await r.json()) as { comment: { id: string } }).comment.id);
    }
    const initialFans = fans.slice(0, 5);
    for (const f of initialFans) await w.ok(w.api(f, "PUT", `/api/v1/follows/${author}`), 204);

    // Posts, newest first, 2 a page; the author posts between pages.
    const served: string[] = [];
    let cursor: string | null = null;
    let k = 0;
    do {
      const page: Page<{ post_id: string }> = await json(
        writer,
        `/api/v1/users/${author}/posts?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      served.push(...page.items.map((i) => i.post_id));
      cursor = page.next_cursor;
      await post(author, `arrived while paging ${k++}`);
    } while (cursor);
    expect(new Set(served).size).toBe(served.length);
    expect(served.filter((id) => initialPosts.includes(id))).toEqual([...initialPosts].reverse());

    // Comments, oldest first, 2 a page; new comments arrive between pages (they may be served: at the end).
    const comments: string[] = [];
    cursor = null;
    k = 0;
    do {
      const page: Page<{ comment_id: string }> = await json(
        writer,
        `/api/v1/posts/${target}/comments?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      comments.push(...page.items.map((i) => i.comment_id));
      cursor = page.next_cursor;
      if (k < 4) await w.api(fans[k++] as string, "POST", `/api/v1/posts/${target}/comments`, { text: `late ${k}` });
    } while (cursor);
    expect(new Set(comments).size).toBe(comments.length);
    expect(comments.slice(0, initialComments.length)).toEqual(initialComments);

    // Followers, newest first, 2 a page; others follow between pages.
    const followers: string[] = [];
    cursor = null;
    k = 0;
    do {
      const page: Page<{ id: string }> = await json(
        writer,
        `/api/v1/users/${author}/followers?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      followers.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
      const late = fans[5 + k++];
      if (late) await w.ok(w.api(late, "PUT", `/api/v1/follows/${author}`), 204);
    } while (cursor);
    expect(new Set(followers).size).toBe(followers.length);
    const expected: string[] = [writer, ...initialFans]; // the writer followed first (the test above)
    expect(followers.filter((f) => expected.includes(f))).toEqual([...expected].reverse());
  });
});
