/**
 * Load: while the matrix runs, a steady stream of events (POST /api/v1/events every 100 ms: 10
 * views, each of a post of its own, and once posts exist an impression and a share of one of
 * them, which the serving index counts) and writes (posts, likes, comments, follows through the
 * origin write API, every 250 ms) through the run's worker, by 8 users; every event answered 202
 * is recorded with the phase it was sent in, every refusal and write counted per phase.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ClickHouseClient } from "@clickhouse/client";
import { devToken } from "../token.ts";
import type { FaultRun } from "./provision.ts";

export interface PhaseStats {
  refused: number;
  writesOk: number;
  writesFailed: number;
}

export interface Load {
  /** The phase requests sent from now on count toward. */
  phase: string;
  /** event_id → the phase it was accepted (202) in. */
  accepted: Map<string, string>;
  /**
   * event_id → the phase and answer of a request that was not answered 202 (`status` or the
   * error): such an event is not owed, and one found in ClickHouse all the same says which
   * phase and answer lost a 202.
   */
  refused: Map<string, { phase: string; answer: string }>;
  stat(phase: string): PhaseStats;
  /** Sends one event from now on and waits until it is in ClickHouse; throws after `deadlineMs`. */
  endToEnd(deadlineMs: number): Promise<void>;
  stop(): Promise<void>;
}

type Call = (user: string, method: string, path: string, body?: unknown) => Promise<Response>;

export async function startLoad(run: FaultRun): Promise<Load> {
  const users = Array.from({ length: 8 }, () => randomUUID());
  const call = await caller(run, users);
  for (const [i, u] of users.entries()) {
    const res = await call(u, "PUT", "/api/v1/users/me", { handle: `f${run.id}_${i}` });
    if (res.status !== 200) throw new Error(`PUT /users/me: ${res.status} ${await res.text()}`);
  }
  const stats = new Map<string, PhaseStats>();
  let running = true;
  const load: Load = {
    phase: "warm-up",
    accepted: new Map(),
    refused: new Map(),
    stat(p) {
      const s = stats.get(p) ?? { refused: 0, writesOk: 0, writesFailed: 0 };
      stats.set(p, s);
      return s;
    },
    endToEnd: (deadlineMs) =>
      endToEnd(
        run.world.ch,
        load,
        (ev) => call(users[0] as string, "POST", "/api/v1/events", { events: [ev] }),
        deadlineMs,
      ),
    async stop() {
      running = false;
      await done;
    },
  };
  // The posts the writes made, which the impressions and shares are of.
  const posts: string[] = [];
  const done = Promise.all([
    eventsLoop(load, users, posts, call, () => running),
    writesLoop(load, users, posts, call, () => running),
  ]);
  return load;
}

/** A request as `user` to the run's worker, with a development token per user. */
async function caller(run: FaultRun, users: string[]): Promise<Call> {
  const tokens = new Map<string, string>();
  for (const u of users) tokens.set(u, await devToken(u, 3 * 3600, run.jwtSecret));
  return (user, method, path, body) =>
    fetch(`${run.edge.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.get(user)}`, "content-type": "application/json" },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
}

async function eventsLoop(
  load: Load,
  users: string[],
  posts: string[],
  call: Call,
  running: () => boolean,
): Promise<void> {
  for (let n = 0; running(); n++) {
    const user = users[n % users.length] as string;
    const events: { event_id: string; type: string; post_id: string }[] = Array.from({ length: 10 }, () => ({
      event_id: randomUUID(),
      type: "view",
      post_id: randomUUID(), // one post per event: post_metrics_1h.views then counts its inserts
    }));
    // Of a real post (the index's counters and affinity: check:index compares them).
    const post = posts[(n * 7) % Math.max(posts.length, 1)];
    if (post) {
      events.push({ event_id: randomUUID(), type: "impression", post_id: post });
      events.push({ event_id: randomUUID(), type: "share", post_id: post });
    }
    const p = load.phase;
    try {
      const res = await call(user, "POST", "/api/v1/events", { events });
      const body = (await res.json().catch(() => ({}))) as { accepted?: number };
      if (res.status === 202 && body.accepted === events.length)
        for (const e of events) load.accepted.set(e.event_id, p);
      else refuse(String(res.status));
    } catch (err) {
      refuse((err as Error).name || "error");
    }
    function refuse(answer: string) {
      load.stat(p).refused++;
      for (const e of events) load.refused.set(e.event_id, { phase: p, answer });
    }
    await sleep(100);
  }
}

async function writesLoop(
  load: Load,
  users: string[],
  posts: string[],
  call: Call,
  running: () => boolean,
): Promise<void> {
  for (let n = 1; running(); n++) {
    const user = users[(n - 1) % users.length] as string;
    const p = load.phase;
    try {
      let res: Response;
      const r = n % 4;
      if (r === 0 || posts.length === 0) {
        res = await call(user, "POST", "/api/v1/posts", { text: `fault post ${n}` });
        if (res.status === 201) posts.push(((await res.json()) as { post: { id: string } }).post.id);
      } else if (r === 1) res = await call(user, "PUT", `/api/v1/posts/${posts[n % posts.length]}/like`);
      else if (r === 2)
        res = await call(user, "POST", `/api/v1/posts/${posts[n % posts.length]}/comments`, { text: `c${n}` });
      else res = await call(user, "PUT", `/api/v1/follows/${users[(n + 3) % users.length]}`);
      await res.body?.cancel().catch(() => {});
      if (res.status >= 200 && res.status < 300) load.stat(p).writesOk++;
      else load.stat(p).writesFailed++;
    } catch {
      load.stat(p).writesFailed++;
    }
    await sleep(250);
  }
}

type ViewEvent = { event_id: string; type: "view"; post_id: string };

/** Sends a probe event until one is accepted, then waits for it in ClickHouse. */
async function endToEnd(
  ch: ClickHouseClient,
  load: Load,
  send: (ev: ViewEvent) => Promise<Response>,
  deadlineMs: number,
): Promise<void> {
  const start = Date.now();
  let probe: string | null = null;
  for (;;) {
    if (Date.now() - start > deadlineMs) throw new Error("no accepted event reached ClickHouse in time");
    if (probe === null) {
      const ev: ViewEvent = { event_id: randomUUID(), type: "view", post_id: randomUUID() };
      const res = await send(ev).catch(() => null);
      if (res?.status === 202) {
        load.accepted.set(ev.event_id, load.phase);
        probe = ev.event_id;
      } else load.refused.set(ev.event_id, { phase: `${load.phase} (probe)`, answer: String(res?.status ?? "error") });
      await res?.body?.cancel().catch(() => {});
    }
    if (probe !== null && (await inClickHouse(ch, probe).catch(() => false))) return;
    await sleep(200);
  }
}

async function inClickHouse(ch: ClickHouseClient, eventId: string): Promise<boolean> {
  const rs = await ch.query({
    query: "SELECT count() AS n FROM events_raw WHERE event_id = {id:UUID}",
    query_params: { id: eventId },
    format: "JSONEachRow",
  });
  return Number((await rs.json<{ n: string }>())[0]?.n ?? 0) > 0;
}
