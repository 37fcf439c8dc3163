/**
 * Bench phase live: the live channel on the production runtime (the bundle under one plain
 * workerd, which the origin's publisher posts to: LIVE_EDGE_URL).
 * 1. A followee's post → `new_posts` at a connected follower (write sent → message received).
 * 2. A like, a comment and a follow → `notifications {unread}` at the recipient (the recipient
 *    marks everything seen first, so the action makes one group unread).
 * 2b. A notifications page read (GET /api/v1/notifications) p50/p95 by those recipients.
 * 3. Connections held on that one workerd: opened in steps (one user each, as one client each)
 *    up to 10,000, with the workerd processes' resident memory per step; it stops at the first
 *    step where more than 1 % of the upgrades fail, and says so.
 */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createClient } from "../../../edge/client/index.ts";
import { devToken } from "../../../scripts/token.ts";
import { type LiveClient, openLive } from "../../lib/live-client.ts";
import type { Bench } from "../context.ts";
import { log, round, sleep } from "../context.ts";
import { percentile, type Shot } from "../load.ts";
import { info, serverTotals, stageMeans, stageRounds } from "../report.ts";

const TARGET_MS = 1500;
/** Notifications page reads timed (after 2.). */
const PAGE_READS = 300;
/** A notifications page read's p95 target (ms). */
const PAGE_TARGET_MS = 15;
const STEPS = [1000, 2500, 5000, 7500, 10_000];
/** Held connections pinged after each step (spread over all of them). */
const PING_SAMPLE = 200;

/** Pings `n` connections spread over `held`; how many answered within 10 s. */
async function pingSample(held: LiveClient[], n: number): Promise<{ pongs: number; asked: number }> {
  const sample = held.filter((_, i) => i % Math.max(1, Math.floor(held.length / n)) === 0);
  let pongs = 0;
  await Promise.all(
    sample.map(async (c) => {
      const from = c.messages.length;
      try {
        c.ws.send("ping");
      } catch {
        return;
      }
      if (await c.next((m) => m.type === "pong", 10_000, from).catch(() => null)) pongs++;
    }),
  );
  return { pongs, asked: sample.length };
}

/** Resident memory (KiB) of this process's workerd children (miniflare's). */
function workerdRssKiB(): number {
  try {
    const out = execFileSync("ps", ["-eo", "ppid=,rss=,comm="], { encoding: "utf8" });
    let kib = 0;
    for (const line of out.split("\n")) {
      const [ppid, rss, comm] = line.trim().split(/\s+/);
      if (comm === "workerd" && Number(ppid) === process.pid) kib += Number(rss);
    }
    return kib;
  } catch {
    return 0;
  }
}

export async function livePhase(b: Bench): Promise<void> {
  const { plain, pool, tokenOf, auth, figures, details } = b;
  const base = plain.url;
  const as = (user: string) => createClient({ baseUrl: base, headers: auth(user) });
  log(`live channel on plain workerd ${base}`);

  // ---- 1. followee post → new_posts
  const { rows: pairs } = await pool.query<{ follower: string; followee: string }>(
    `SELECT DISTINCT ON (f.followee_id) f.follower_id::text AS follower, f.followee_id::text AS followee
     FROM follows f WHERE f.deleted_at IS NULL AND f.follower_id = ANY($1::uuid[]) ORDER BY f.followee_id, f.follower_id`,
    [b.sample.slice(0, 120)],
  );
  const usedFollowers = new Set<string>();
  const chosen = pairs.filter((p) => !usedFollowers.has(p.follower) && usedFollowers.add(p.follower)).slice(0, 30);
  const toNewPosts: number[] = [];
  let newPostsMissing = 0;
  for (const { follower, followee } of chosen) {
    await tokenOf(followee);
    const c = await openLive(base, await tokenOf(follower));
    try {
      const from = c.messages.length;
      await sleep(50); // the opening messages of a resumed state, if any, first
      const before = c.messages.filter((m) => m.type === "new_posts").at(-1)?.count ?? 0;
      const t0 = Date.now();
      const res = await as(followee).send("createPost", { body: { text: "live bench" } });
      if (!res.ok) throw new Error(`post answered ${res.status}`);
      try {
        const m = await c.next((x) => x.type === "new_posts" && (x.count ?? 0) > before, 10_000, from);
        toNewPosts.push(m.receivedAt - t0);
      } catch {
        newPostsMissing++;
      }
    } finally {
      await c.close();
    }
  }
  toNewPosts.sort((x, y) => x - y);

  // ---- 2. like / comment / follow → notifications {unread}
  const { rows: authored } = await pool.query<{ author: string; post: string }>(
    `SELECT DISTINCT ON (p.author_id) p.author_id::text AS author, p.id::text AS post FROM posts p
     WHERE p.deleted_at IS NULL AND p.author_id = ANY($1::uuid[]) ORDER BY p.author_id, p.created_at DESC`,
    [b.sample.slice(120, 300)],
  );
  const actors = b.sample.slice(300);
  const toUnread: Record<"like" | "comment" | "follow", number[]> = { like: [], comment: [], follow: [] };
  let unreadMissing = 0;
  const kinds = ["like", "comment", "follow"] as const;
  for (const [i, { author, post }] of authored.slice(0, 30).entries()) {
    const kind = kinds[i % 3] as (typeof kinds)[number];
    const actor = actors[i % actors.length] as string;
    if (actor === author) continue;
    await tokenOf(actor);
    const c = await openLive(base, await tokenOf(author));
    try {
      const seen = await as(author).send("markNotificationsSeen", { body: { until: Date.now() } });
      if (!seen.ok) throw new Error(`seen answered ${seen.status}`);
      await c.next((x) => x.type === "notifications" && x.unread === 0, 5000).catch(() => null);
      if (kind === "follow") await as(actor).send("unfollow", { params: { user_id: author } });
      if (kind === "like") await as(actor).send("unlike", { params: { id: post } });
      await sleep(1500); // the take-back through the pipeline first (it changes no unread count)
      const from = c.messages.length;
      const t0 = Date.now();
      const res =
        kind === "like"
          ? await as(actor).send("like", { params: { id: post } })
          : kind === "comment"
            ? await as(actor).send("createComment", { params: { id: post }, body: { text: "live bench" } })
            : await as(actor).send("follow", { params: { user_id: author } });
      if (!res.ok) throw new Error(`${kind} answered ${res.status}`);
      try {
        const m = await c.next((x) => x.type === "notifications" && (x.unread ?? 0) >= 1, 10_000, from);
        toUnread[kind].push(m.receivedAt - t0);
      } catch {
        unreadMissing++;
      }
    } finally {
      await c.close();
    }
  }
  const allUnread = [...toUnread.like, ...toUnread.comment, ...toUnread.follow].sort((x, y) => x - y);

  // ---- 2b. a notifications page read (GET /api/v1/notifications, 20 groups), 1 client, closed
  // loop over the recipients above (each has groups now), on plain workerd
  const readers = authored.slice(0, 30).map((a) => a.author);
  const pageMs: number[] = [];
  // Each answer's Server-Timing: round trip 1 (`page`), round trip 2 (`actors`), the handler's total.
  const pageShots: Shot[] = [];
  for (const r of readers) await tokenOf(r);
  for (let i = 0; i < PAGE_READS; i++) {
    const reader = readers[i % readers.length] as string;
    const t0 = performance.now();
    const res = await as(reader).send("getNotifications", { query: { limit: 20 } });
    if (!res.ok) throw new Error(`notifications page answered ${res.status}`);
    const ms = performance.now() - t0;
    pageMs.push(ms);
    pageShots.push({ ms, status: res.status, cache: null, timing: res.headers.get("server-timing") });
  }
  pageMs.sort((x, y) => x - y);

  // ---- 3. connections held on one workerd
  const held: LiveClient[] = [];
  const steps: {
    connections: number;
    open: number;
    pongs: string;
    rss_mib: number;
    kib_per_connection: number;
    open_s: number;
    failed: number;
  }[] = [];
  const rss0 = workerdRssKiB();
  const secret = b.jwtSecret;
  let stoppedBecause = "reached the target";
  for (const step of STEPS) {
    const t0 = Date.now();
    let failed = 0;
    let next = held.length;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < step) {
          next++;
          try {
            held.push(await openLive(base, await devToken(randomUUID(), 3600, secret)));
          } catch {
            failed++;
          }
        }
      }),
    );
    await sleep(2000);
    const rss = workerdRssKiB();
    // Held means alive: still open, and a spread sample answers a ping (an opened socket the
    // runtime has stopped serving is not a connection held).
    const open = held.filter((c) => c.ws.readyState === WebSocket.OPEN).length;
    const alive = await pingSample(held, PING_SAMPLE);
    const row = {
      connections: held.length,
      open,
      pongs: `${alive.pongs}/${alive.asked}`,
      rss_mib: round(rss / 1024),
      kib_per_connection: round((rss - rss0) / Math.max(1, held.length), 1),
      open_s: round((Date.now() - t0) / 1000),
      failed,
    };
    steps.push(row);
    log(`live: ${JSON.stringify(row)}`);
    if (failed > step * 0.01) {
      stoppedBecause = `more than 1 % of the upgrades failed at ${step}`;
      break;
    }
    if (open < held.length * 0.99 || alive.pongs < alive.asked * 0.99) {
      stoppedBecause = `at ${step} only ${open} of ${held.length} connections stayed open and ${alive.pongs} of ${alive.asked} sampled answered a ping`;
      break;
    }
  }
  for (let i = 0; i < held.length; i += 200)
    await Promise.all(held.slice(i, i + 200).map((c) => c.close().catch(() => {})));

  details.live = {
    new_posts_samples: toNewPosts.length,
    new_posts_missing: newPostsMissing,
    unread_samples: Object.fromEntries(Object.entries(toUnread).map(([k, v]) => [k, v.length])),
    unread_missing: unreadMissing,
    connection_steps: steps,
    connections_stopped: stoppedBecause,
    workerd_rss_before_mib: round(rss0 / 1024),
  };
  // The last step whose upgrades (nearly) all succeeded and whose connections stayed alive: a step that failed may have taken the
  // runtime down with it (its memory then says nothing about connections).
  const healthy = (r: (typeof steps)[number]) => {
    const [p, a] = r.pongs.split("/").map(Number) as [number, number];
    return r.failed <= r.connections * 0.01 && r.open >= r.connections * 0.99 && p >= a * 0.99;
  };
  const last = steps.filter(healthy).at(-1);
  figures.push(
    info("followee post → new_posts at a connected follower p50 (ms)", round(percentile(toNewPosts, 0.5))),
    {
      name: "followee post → new_posts at a connected follower p95 (ms)",
      ours: round(percentile(toNewPosts, 0.95)),
      baseline: null,
      ratio: null,
      target: `≤ ${TARGET_MS}`,
      met: percentile(toNewPosts, 0.95) <= TARGET_MS && newPostsMissing === 0,
    },
    info("like/comment/follow → notifications {unread} on the channel p50 (ms)", round(percentile(allUnread, 0.5))),
    {
      name: "like/comment/follow → notifications {unread} on the channel p95 (ms)",
      ours: round(percentile(allUnread, 0.95)),
      baseline: null,
      ratio: null,
      target: `≤ ${TARGET_MS}`,
      met: percentile(allUnread, 0.95) <= TARGET_MS && unreadMissing === 0,
    },
    info("notifications page read p50 (ms), plain workerd, loopback", round(percentile(pageMs, 0.5))),
    {
      name: "notifications page read p95 (ms), plain workerd, loopback",
      ours: round(percentile(pageMs, 0.95)),
      baseline: null,
      ratio: null,
      target: `≤ ${PAGE_TARGET_MS} ms`,
      met: percentile(pageMs, 0.95) <= PAGE_TARGET_MS,
    },
    ...stageRounds("notifications page read, plain workerd, loopback", [stageMeans(pageShots)]),
    info(
      "notifications page read p95 inside the worker (ms, Server-Timing total), plain workerd, loopback",
      round(percentile(serverTotals(pageShots), 0.95)),
    ),
    {
      name: "live connections held on one local workerd (the last step where ≥ 99 % stayed open and answered a ping)",
      ours: last?.connections ?? 0,
      baseline: null,
      ratio: null,
      target: "10000",
      met: (last?.connections ?? 0) >= 10_000,
    },
    info("workerd resident memory per live connection (KiB)", last?.kib_per_connection ?? 0),
  );
}
