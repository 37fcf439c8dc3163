/**
 * The read side at the edge (docs/api.md "Reads"): profiles, an author's posts, a post, its
 * comments, followers and following, each the core's plans (edge/core/reads) run on Upstash
 * REST against the serving index, with ClickHouse for posts older than the index's window.
 * Every answer applies the rules: a user the viewer blocks or is blocked by, a deleted or an
 * unknown one is not found (404), and so are their posts and threads; lists never show them.
 */
import type { ClickHouseClient } from "@clickhouse/client-web";
import { ApiError } from "#core/errors.ts";
import { INDEX_POST_WINDOW_MS, type IndexKeys } from "#core/keys.ts";
import {
  decodeListCursor,
  encodeListCursor,
  type ListCursor,
  ListCursorError,
  type ListKind,
} from "#core/reads/cursor.ts";
import { listPage, listPageRead, type Order } from "#core/reads/lists.ts";
import { type Person, parsePeople, peopleReads, visibleCard } from "#core/reads/people.ts";
import {
  type ColdPostRow,
  fromColdRow,
  type Hydration,
  hydrationReads,
  type PostRef,
  parseHydration,
  presentIndexed,
} from "#core/reads/posts.ts";
import { parseUserReads, presentProfile, type UserView, userReads, visible } from "#core/reads/profile.ts";
import {
  type CommentOut,
  hmgetValues,
  iso,
  type ListedUser,
  type PostOut,
  type ProfileOut,
  type UserCard,
} from "#core/reads/shapes.ts";
import type { Command, PipelineExec } from "#core/serving/read.ts";
import { POSTS_BY_IDS_SQL } from "#core/sql/reads.ts";

export interface ReadDeps {
  exec: PipelineExec;
  clickhouse: ClickHouseClient;
  keys: IndexKeys;
  viewerId: string;
  now: () => number;
  log: Record<string, unknown>;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const notFound = (what: string) => new ApiError("not_found", `${what} not found`);

async function run(deps: Pick<ReadDeps, "exec" | "log">, commands: Command[]): Promise<unknown[]> {
  try {
    return await deps.exec(commands);
  } catch (err) {
    deps.log.redis_error = String(err);
    throw new ApiError("unavailable", "reads temporarily unavailable; retry shortly", undefined, { cause: err });
  }
}

function cursorOf(raw: string | undefined, kind: ListKind, owner: string): ListCursor | null {
  if (raw === undefined) return null;
  try {
    return decodeListCursor(raw, kind, owner);
  } catch (err) {
    if (err instanceof ListCursorError) throw new ApiError("bad_request", `cursor: ${err.message}`);
    throw err;
  }
}

/** Users as the viewer sees them (one round trip); none to read, no round trip. */
async function seenBy(
  deps: Pick<ReadDeps, "exec" | "log" | "keys">,
  viewerId: string | null,
  ids: string[],
): Promise<Map<string, Person>> {
  if (!ids.length) return new Map();
  const plan = peopleReads(deps.keys, viewerId, ids);
  return parsePeople(plan, await run(deps, plan.commands));
}

/** Posts by id from ClickHouse (older than the index), with the viewer's like. */
async function coldPosts(deps: ReadDeps, ids: string[]): Promise<Map<string, ColdPostRow>> {
  if (!ids.length) return new Map();
  try {
    const rs = await deps.clickhouse.query({
      query: POSTS_BY_IDS_SQL,
      query_params: { ids, viewer: deps.viewerId },
      format: "JSONEachRow",
    });
    return new Map((await rs.json<ColdPostRow>()).map((r) => [r.post_id, r]));
  } catch (err) {
    deps.log.clickhouse_error = String(err);
    throw new ApiError("unavailable", "post history temporarily unavailable; retry shortly", undefined, { cause: err });
  }
}

/** The user `userId` as the viewer sees them (one round trip), and its extra commands' replies. */
async function userWith(
  deps: ReadDeps,
  userId: string,
  extra: Command[] = [],
): Promise<{ user: UserView; extra: unknown[] }> {
  const reads = userReads(deps.keys, deps.viewerId, userId);
  const replies = await run(deps, [...reads, ...extra]);
  return {
    user: parseUserReads(deps.viewerId, userId, replies.slice(0, reads.length)),
    extra: replies.slice(reads.length),
  };
}

export async function getProfile(deps: ReadDeps, userId: string): Promise<ProfileOut> {
  const { user } = await userWith(deps, userId);
  const out = presentProfile(user);
  if (!out) throw notFound("user");
  return out;
}

/** The user id of a live handle (one round trip), or 404. */
export async function userIdOfHandle(deps: ReadDeps, handle: string): Promise<string> {
  const [id] = await run(deps, [["HGET", deps.keys.handle(handle), "u"]]);
  if (typeof id !== "string" || !id) throw notFound("user");
  return id;
}

/**
 * Hydrates posts the viewer may see, in the given order: the index for the posts it holds
 * (one round trip), ClickHouse for the rest (in parallel when `coldIds` names them up front, else
 * after). Deleted posts, and posts of deleted or blocked authors, are left out.
 */
export async function hydratePosts(
  deps: Pick<ReadDeps, "exec" | "clickhouse" | "keys" | "log"> & { viewerId: string | null },
  refs: PostRef[],
  opts: { coldIds?: Set<string>; cards?: Map<string, UserCard> } = {},
): Promise<PostOut[]> {
  if (!refs.length) return [];
  const cold = opts.coldIds ?? new Set<string>();
  const hot = refs.filter((r) => !cold.has(r.postId));
  const plan = hydrationReads(deps.keys, deps.viewerId, hot.length ? hot : refs.slice(0, 0));
  const coldDeps = { ...deps, viewerId: deps.viewerId ?? "00000000-0000-0000-0000-000000000000", now: Date.now };
  const [replies, early] = await Promise.all([
    plan.commands.length ? run(coldDeps, plan.commands) : Promise.resolve([]),
    coldPosts(coldDeps, [...cold]),
  ]);
  const h: Hydration = parseHydration(plan, replies);
  const late = h.missing.length
    ? await coldPosts(
        coldDeps,
        h.missing.map((r) => r.postId),
      )
    : new Map();
  const rows = new Map([...early, ...late]);
  // Authors of cold posts the index read did not cover: the viewer's relation to them, and
  // their cards where the caller does not know them.
  const covered = new Set(plan.authors);
  const uncovered = [...new Set(refs.filter((r) => rows.has(r.postId)).map((r) => r.authorId))].filter(
    (a) => !covered.has(a),
  );
  const people = uncovered.length ? await seenBy(coldDeps, deps.viewerId, uncovered) : new Map<string, Person>();
  const out: PostOut[] = [];
  for (const ref of refs) {
    const fromIndex = presentIndexed(h, ref.postId, deps.viewerId);
    if (fromIndex) {
      out.push(fromIndex);
      continue;
    }
    const row = rows.get(ref.postId);
    if (!row) continue;
    const rel = people.get(row.author_id);
    const blocked = rel?.blocked ?? h.blocked.has(row.author_id);
    if (blocked) continue;
    const card = opts.cards?.get(row.author_id) ?? h.cards.get(row.author_id) ?? rel?.card ?? null;
    const follows = rel?.followed ?? h.followed.has(row.author_id);
    const post = fromColdRow(row, card, deps.viewerId ? { id: deps.viewerId, followsAuthor: follows } : null);
    if (post) out.push(post);
  }
  return out;
}

/** GET /api/v1/users/{id}/posts: the author's posts, newest first, the whole history. */
export async function getUserPosts(
  deps: ReadDeps,
  authorId: string,
  cursorRaw: string | undefined,
  limit: number,
): Promise<Page<PostOut>> {
  const cursor = cursorOf(cursorRaw, "posts", authorId);
  const { user, extra } = await userWith(deps, authorId, [
    listPageRead(deps.keys.userPosts(authorId), "newest", cursor, limit),
  ]);
  if (!visible(user) || !user.profile) throw notFound("user");
  const page = listPage(extra[0], "posts", authorId, limit);
  const windowStart = deps.now() - INDEX_POST_WINDOW_MS;
  const card: UserCard = { id: authorId, handle: user.profile.handle, display_name: user.profile.displayName };
  const items = await hydratePosts(
    deps,
    page.entries.map((e) => ({ postId: e.id, authorId })),
    {
      coldIds: new Set(page.entries.filter((e) => e.score < windowStart).map((e) => e.id)),
      cards: new Map([[authorId, card]]),
    },
  );
  return { items, next_cursor: page.next ? encodeListCursor(page.next) : null };
}

/** The post's author from the index's post hash (window posts), else from ClickHouse. */
async function authorOfPost(deps: ReadDeps, postId: string): Promise<{ authorId: string; cold: ColdPostRow | null }> {
  const [reply] = await run(deps, [["HMGET", deps.keys.post(postId), "a", "d"]]);
  const [a, d] = hmgetValues(reply, ["a", "d"]);
  if (a) {
    if (d === "1") throw notFound("post");
    return { authorId: a, cold: null };
  }
  const row = (await coldPosts(deps, [postId])).get(postId);
  if (!row || row.deleted === true || row.deleted === 1 || row.deleted === "1") throw notFound("post");
  return { authorId: row.author_id, cold: row };
}

/**
 * GET /api/v1/posts/{id}: the post, hydrated. A post in the index takes 2 round trips (its
 * author; then the author as the viewer sees them with the post's hydration, in one pipeline).
 */
export async function getPost(deps: ReadDeps, postId: string): Promise<PostOut> {
  const { authorId, cold } = await authorOfPost(deps, postId);
  const ref = { postId, authorId };
  const plan = cold ? null : hydrationReads(deps.keys, deps.viewerId, [ref]);
  const { user, extra } = await userWith(deps, authorId, plan?.commands ?? []);
  if (!visible(user)) throw notFound("post");
  const indexed = plan ? presentIndexed(parseHydration(plan, extra), postId, deps.viewerId) : null;
  if (indexed) return indexed;
  // From ClickHouse, or the post left the index's window meanwhile: the general path.
  const [post] = await hydratePosts(deps, [ref], cold ? { coldIds: new Set([postId]) } : {});
  if (!post) throw notFound("post");
  return post;
}

/** GET /api/v1/posts/{id}/comments: oldest first (or newest), commenters hydrated. */
export async function getComments(
  deps: ReadDeps,
  postId: string,
  order: Order,
  cursorRaw: string | undefined,
  limit: number,
): Promise<Page<CommentOut>> {
  const kind: ListKind = order === "newest" ? "comments-newest" : "comments";
  const cursor = cursorOf(cursorRaw, kind, postId);
  const { authorId } = await authorOfPost(deps, postId);
  const { user, extra } = await userWith(deps, authorId, [
    listPageRead(deps.keys.comments(postId), order, cursor, limit),
  ]);
  if (!visible(user)) throw notFound("post");
  const page = listPage(extra[0], kind, postId, limit);
  if (!page.entries.length) return { items: [], next_cursor: page.next ? encodeListCursor(page.next) : null };
  const ids = page.entries.map((e) => e.id);
  const [bodiesReply] = await run(deps, [["HMGET", deps.keys.commentBodies(postId), ...ids]]);
  const bodies = hmgetValues(bodiesReply, ids).map((v) => {
    if (!v) return null;
    const [commenter, created, ...text] = v.split("\t");
    return commenter ? { commenter, createdMs: Number(created), text: text.join("\t") } : null;
  });
  const commenters = [...new Set(bodies.filter((b) => b !== null).map((b) => b.commenter))];
  const people = await seenBy(deps, deps.viewerId, commenters);
  const items: CommentOut[] = [];
  page.entries.forEach((e, i) => {
    const b = bodies[i];
    const card = b ? visibleCard(people.get(b.commenter)) : null;
    if (!b || !card) return;
    items.push({ comment_id: e.id, post_id: postId, author: card, created_at: iso(b.createdMs), text: b.text });
  });
  return { items, next_cursor: page.next ? encodeListCursor(page.next) : null };
}

/** GET /api/v1/users/{id}/followers and /following: newest first, with the viewer's relation. */
export async function getFollowList(
  deps: ReadDeps,
  userId: string,
  kind: "followers" | "following",
  cursorRaw: string | undefined,
  limit: number,
): Promise<Page<ListedUser>> {
  const cursor = cursorOf(cursorRaw, kind, userId);
  const key = kind === "followers" ? deps.keys.followers(userId) : deps.keys.following(userId);
  const { user, extra } = await userWith(deps, userId, [listPageRead(key, "newest", cursor, limit)]);
  if (!visible(user)) throw notFound("user");
  const page = listPage(extra[0], kind, userId, limit);
  const ids = page.entries.map((e) => e.id);
  const items: ListedUser[] = [];
  const people = await seenBy(deps, deps.viewerId, ids);
  for (const u of ids) {
    const p = people.get(u);
    const card = visibleCard(p);
    if (card && p) items.push({ ...card, viewer: { following: p.followed, followed_by: p.followsViewer } });
  }
  return { items, next_cursor: page.next ? encodeListCursor(page.next) : null };
}
