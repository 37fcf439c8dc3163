/**
 * A seeded random write workload over all six tables: inserts, updates, soft deletes
 * (including revivals) and hard deletes, one statement per write, values bound as parameters.
 */
import { randomUUID } from "node:crypto";
import type pg from "pg";

import { rng } from "../../../scripts/lib/rng.ts";

export interface WorkloadResult {
  writes: number;
  byKind: Record<string, number>;
}

export async function runWorkload(
  pool: pg.Pool,
  opts: { seed: number; writes: number; concurrency?: number; onProgress?: (done: number) => void },
): Promise<WorkloadResult> {
  const rand = rng(opts.seed);
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(rand() * xs.length)];
  const users: string[] = [];
  const posts: string[] = [];
  const comments: string[] = [];
  const byKind: Record<string, number> = {};
  let done = 0;

  // Statements are generated up front from the PRNG (deterministic), then run by a few workers.
  type Op = { kind: string; sql: string; params: unknown[] };
  const ops: Op[] = [];
  const add = (kind: string, sql: string, params: unknown[]) => ops.push({ kind, sql, params });
  for (let i = 0; i < 50; i++) {
    const id = randomUUID();
    users.push(id);
    add("user.insert", "INSERT INTO users (id, handle) VALUES ($1, $2)", [id, `w${opts.seed}_${i}`]);
  }
  while (ops.length < opts.writes) {
    const r = rand();
    const u = pick(users) as string;
    const v = pick(users) as string;
    if (r < 0.12) {
      const id = randomUUID();
      posts.push(id);
      add("post.insert", "INSERT INTO posts (id, author_id, text) VALUES ($1, $2, $3)", [
        id,
        u,
        `post ${ops.length} ✓ 'q'`,
      ]);
    } else if (r < 0.17 && posts.length) {
      add("post.update", "UPDATE posts SET text = $2 WHERE id = $1", [pick(posts), `edit ${ops.length}`]);
    } else if (r < 0.2 && posts.length) {
      add(
        "post.soft_delete",
        "UPDATE posts SET deleted_at = CASE WHEN deleted_at IS NULL THEN now() END WHERE id = $1",
        [pick(posts)],
      );
    } else if (r < 0.21 && posts.length) {
      add("post.hard_delete", "DELETE FROM posts WHERE id = $1", [pick(posts)]);
    } else if (r < 0.4) {
      if (u !== v) {
        add(
          "follow.upsert",
          `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)
           ON CONFLICT (follower_id, followee_id) DO UPDATE SET deleted_at = NULL`,
          [u, v],
        );
      }
    } else if (r < 0.47) {
      add("follow.soft_delete", "UPDATE follows SET deleted_at = now() WHERE follower_id = $1 AND deleted_at IS NULL", [
        u,
      ]);
    } else if (r < 0.49) {
      add("follow.hard_delete", "DELETE FROM follows WHERE follower_id = $1 AND followee_id = $2", [u, v]);
    } else if (r < 0.7 && posts.length) {
      add(
        "like.upsert",
        `INSERT INTO likes (user_id, post_id) SELECT $1, id FROM posts WHERE id = $2
         ON CONFLICT (user_id, post_id) DO UPDATE SET deleted_at = NULL`,
        [u, pick(posts)],
      );
    } else if (r < 0.78 && posts.length) {
      add("like.soft_delete", "UPDATE likes SET deleted_at = now() WHERE post_id = $1 AND user_id = $2", [
        pick(posts),
        u,
      ]);
    } else if (r < 0.8 && posts.length) {
      add("like.hard_delete", "DELETE FROM likes WHERE post_id = $1 AND user_id = $2", [pick(posts), u]);
    } else if (r < 0.9 && posts.length) {
      const id = randomUUID();
      comments.push(id);
      add(
        "comment.insert",
        "INSERT INTO comments (id, post_id, author_id, text) SELECT $1, id, $3, $4 FROM posts WHERE id = $2",
        [id, pick(posts), u, `comment ${ops.length}\nline two`],
      );
    } else if (r < 0.93 && comments.length) {
      add("comment.update", "UPDATE comments SET text = $2 WHERE id = $1", [pick(comments), `edited ${ops.length}`]);
    } else if (r < 0.95 && comments.length) {
      add("comment.soft_delete", "UPDATE comments SET deleted_at = now() WHERE id = $1", [pick(comments)]);
    } else if (r < 0.96 && comments.length) {
      add("comment.hard_delete", "DELETE FROM comments WHERE id = $1", [pick(comments)]);
    } else if (r < 0.98) {
      if (u !== v) {
        add(
          "block.upsert",
          `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)
           ON CONFLICT (blocker_id, blocked_id) DO UPDATE SET deleted_at = NULL`,
          [u, v],
        );
      }
    } else if (r < 0.99) {
      add("block.soft_delete", "UPDATE blocks SET deleted_at = now() WHERE blocker_id = $1", [u]);
    } else {
      add("user.update", "UPDATE users SET bio = $2 WHERE id = $1", [u, `bio ${ops.length} — ü`]);
    }
  }
  // The first 50 (users) must exist before anything refers to them.
  for (const op of ops.slice(0, 50)) await pool.query(op.sql, op.params);
  done = 50;
  let next = 50;
  const worker = async () => {
    while (next < ops.length) {
      const op = ops[next++] as Op;
      try {
        await pool.query(op.sql, op.params);
        byKind[op.kind] = (byKind[op.kind] ?? 0) + 1;
      } catch (err) {
        // A concurrent hard delete can remove the row a write refers to: that write is refused
        // by a foreign key, as it would be for a real client. Anything else is a bug.
        if ((err as { code?: string }).code !== "23503") throw err;
        byKind.refused = (byKind.refused ?? 0) + 1;
      }
      done++;
      if (done % 1000 === 0) opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  byKind["user.insert"] = 50;
  return { writes: done, byKind };
}
