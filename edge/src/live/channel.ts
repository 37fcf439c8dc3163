/**
 * The live channel's Durable Object: one per user (`idFromName(userId)`), holding that user's
 * WebSocket connections (at most MAX_CONNECTIONS_PER_USER) with the Hibernation API, so an idle
 * connection costs no running object: `ping` is answered `pong` by the runtime without waking
 * it, and the object wakes for a publish, a client message, a close or its heartbeat alarm.
 *
 * State (edge/core/live/state.ts) is kept in the object's storage, so it survives hibernation
 * and eviction; changes are coalesced: at most one send of each type's current value per
 * FLUSH_INTERVAL_MS to each connection, however many publishes arrive, so a slow client is sent
 * state, never a backlog. Presence (edge/core/live/presence.ts) is written to Redis while a
 * connection is open and renewed at every heartbeat; the origin publishes only to users in it.
 *
 * Reached only through the worker (edge/src/routes/live.ts), which authenticates the user and
 * names them in `x-live-user`; the object trusts that header because nothing else can call it.
 */
import { DurableObject } from "cloudflare:workers";
import { errorBody } from "#core/errors.ts";
import { liveKeys, presenceGrace, presenceRenewal } from "#core/live/presence.ts";
import {
  CLIENT_MESSAGE_WINDOW_MS,
  CLIENT_MESSAGES_PER_WINDOW,
  encodeServerMessage,
  FLUSH_INTERVAL_MS,
  HEARTBEAT_MS,
  IDLE_CLOSE_MS,
  MAX_CONNECTIONS_PER_USER,
  PING,
  PONG,
  type PublishMessage,
  parseClientMessage,
  parseEventId,
  RESUME_GRACE_MS,
  type ServerMessage,
  timeMs,
} from "#core/live/protocol.ts";
import {
  applyPublish,
  type LiveState,
  markPostsSeen,
  messagesOf,
  newState,
  openingMessages,
  type StateType,
} from "#core/live/state.ts";
import type { Command } from "#core/serving/read.ts";
import type { Env } from "../bindings.ts";
import { clientsFor } from "../clients.ts";
import { readEdgeConfig } from "../config.ts";
import { upstashExec } from "../redis-exec.ts";
import { LIVE_HEADERS } from "./headers.ts";

/** What each connection carries across hibernation (serializeAttachment, well under 2 KiB). */
interface Attachment {
  /** The user. */
  u: string;
  /** Last message from the client (ms); the runtime keeps the last auto-answered ping's. */
  a: number;
  /** Start of the current message window (ms) and messages in it. */
  w: number;
  n: number;
  /** The highest change sequence sent on this connection: a flush never sends it one again. */
  s: number;
}

/** The change sequence a state message carries (0 for those without an id). */
const seqOf = (m: ServerMessage): number => ("id" in m ? (parseEventId(m.id)?.seq ?? 0) : 0);

const STATE_KEY = "state";
const CLOSED_AT_KEY = "closedAt";

function randomEpoch(): string {
  const b = crypto.getRandomValues(new Uint8Array(4));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function log(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ level: "warn", msg: "live", ...fields }));
}

/** Closes without throwing (the socket may be closing already). Close reasons are at most 123 bytes. */
function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // already closed
  }
}

export class LiveChannel extends DurableObject<Env> {
  private state: LiveState | null | undefined = undefined;
  private pending = new Set<StateType>();
  private lastFlush = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Answered by the runtime itself: an idle connection's keep-alive never wakes the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING, PONG));
  }

  private async load(): Promise<LiveState | null> {
    if (this.state === undefined) this.state = (await this.ctx.storage.get<LiveState>(STATE_KEY)) ?? null;
    return this.state;
  }

  private async save(s: LiveState): Promise<void> {
    this.state = s;
    await this.ctx.storage.put(STATE_KEY, s);
  }

  /** The open connections, besides `except` (one closing). */
  private openSockets(except?: WebSocket): WebSocket[] {
    return this.ctx.getWebSockets().filter((ws) => ws !== except && ws.readyState === WebSocket.OPEN);
  }

  private async redis(commands: Command[], what: string): Promise<void> {
    try {
      const config = readEdgeConfig(this.env);
      await upstashExec(clientsFor(config).rawRedis)(commands);
    } catch (err) {
      // Presence is best effort: an entry not written means no pushes (the REST reads still
      // answer); one not removed expires by itself.
      log({ what, error: String(err) });
    }
  }

  private presenceKeys() {
    return liveKeys(readEdgeConfig(this.env).index.namespace);
  }

  /** The upgrade, forwarded by the worker once it authenticated the user. */
  override async fetch(request: Request): Promise<Response> {
    const user = request.headers.get(LIVE_HEADERS.user);
    if (!user || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return Response.json(errorBody("bad_request", "expected a WebSocket upgrade"), { status: 400 });
    }
    const lastRaw = request.headers.get(LIVE_HEADERS.lastEventId);
    const last = lastRaw ? parseEventId(lastRaw) : null;
    let state = await this.load();
    const closedAt = await this.ctx.storage.get<number>(CLOSED_AT_KEY);
    const lapsed =
      closedAt !== undefined && Date.now() - closedAt >= RESUME_GRACE_MS && this.openSockets().length === 0;
    if (!state || lapsed) {
      // A new epoch: a resume naming the old one is told to resync (it may have missed changes).
      state = newState(randomEpoch());
      await this.save(state);
    }
    // Counted with no await between the count and the accept: the object runs one event at a
    // time, so six upgrades at once cannot all pass.
    if (this.openSockets().length >= MAX_CONNECTIONS_PER_USER) {
      return Response.json(
        errorBody("rate_limited", `at most ${MAX_CONNECTIONS_PER_USER} live connections per user; close one first`),
        { status: 429, headers: { "Retry-After": String(HEARTBEAT_MS / 1000) } },
      );
    }
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    const now = Date.now();
    const opening = openingMessages(state, last, HEARTBEAT_MS / 1000);
    for (const m of opening) server.send(encodeServerMessage(m));
    // What it has now: the changes up to the state's sequence (those it resumed past included).
    server.serializeAttachment({ u: user, a: now, w: now, n: 0, s: state.seq } satisfies Attachment);
    await this.ctx.storage.delete(CLOSED_AT_KEY);
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > now + HEARTBEAT_MS) await this.ctx.storage.setAlarm(now + HEARTBEAT_MS);
    // Online before the answer leaves: a client that got `hello` is published to.
    await this.redis(presenceRenewal(this.presenceKeys(), user, now), "presence-renew");
    const subprotocol = request.headers.get(LIVE_HEADERS.subprotocol);
    return new Response(null, {
      status: 101,
      webSocket: client,
      ...(subprotocol ? { headers: { "Sec-WebSocket-Protocol": subprotocol } } : {}),
    });
  }

  /**
   * The origin's (or the edge's own) messages for this user. An object that holds no state and
   * no connection ignores them (the user is not online; presence is catching up). Returns how
   * many connections are open.
   */
  async publish(messages: PublishMessage[]): Promise<{ connections: number }> {
    const open = this.openSockets().length;
    let state = await this.load();
    if (!state) {
      if (open === 0) return { connections: 0 };
      state = newState(randomEpoch());
    }
    const r = applyPublish(state, messages);
    if (r.changed.length) {
      await this.save(r.state);
      this.schedule(r.changed);
    }
    return { connections: open };
  }

  /** Coalesces: the changed types go out at the next flush, at most one per FLUSH_INTERVAL_MS. */
  private schedule(types: StateType[]): void {
    for (const t of types) this.pending.add(t);
    if (this.timer !== null) return;
    const wait = this.lastFlush + FLUSH_INTERVAL_MS - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = null;
    this.lastFlush = Date.now();
    const state = this.state;
    if (!state || this.pending.size === 0) return;
    const messages = messagesOf(state, this.pending).map((m) => ({ seq: seqOf(m), frame: encodeServerMessage(m) }));
    this.pending.clear();
    for (const ws of this.openSockets()) {
      try {
        const a = ws.deserializeAttachment() as Attachment;
        const fresh = messages.filter((m) => m.seq > a.s);
        if (fresh.length === 0) continue;
        for (const m of fresh) ws.send(m.frame);
        ws.serializeAttachment({ ...a, s: Math.max(a.s, ...fresh.map((m) => m.seq)) });
      } catch {
        // closing: its close handler cleans up
      }
    }
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const a = ws.deserializeAttachment() as Attachment;
    const now = Date.now();
    if (now - a.w >= CLIENT_MESSAGE_WINDOW_MS) {
      a.w = now;
      a.n = 0;
    }
    a.n++;
    a.a = now;
    ws.serializeAttachment(a);
    if (a.n > CLIENT_MESSAGES_PER_WINDOW) {
      closeQuietly(ws, 1008, `over ${CLIENT_MESSAGES_PER_WINDOW} messages in ${CLIENT_MESSAGE_WINDOW_MS / 1000} s`);
      return;
    }
    const parsed = parseClientMessage(message);
    if (!parsed.ok) {
      closeQuietly(ws, parsed.code, parsed.reason);
      return;
    }
    const state = await this.load();
    if (!state) return;
    const until = Math.min(timeMs(parsed.message.until), now);
    const r = markPostsSeen(state, until);
    if (r.state !== state) await this.save(r.state);
    if (r.changed.length) this.schedule(r.changed);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Completes the closing handshake where the runtime does not answer a close by itself.
    closeQuietly(ws, code === 1005 || code === 1006 ? 1000 : code, reason);
    await this.afterClose(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    closeQuietly(ws, 1011, "error");
    await this.afterClose(ws);
  }

  /** The last connection gone: online and resumable RESUME_GRACE_MS more, then the state goes. */
  private async afterClose(ws: WebSocket): Promise<void> {
    if (this.openSockets(ws).length > 0) return;
    const a = ws.deserializeAttachment() as Attachment | null;
    await this.lastClosed(a?.u ?? null, Date.now());
  }

  private async lastClosed(user: string | null, now: number): Promise<void> {
    await this.ctx.storage.put(CLOSED_AT_KEY, now);
    await this.ctx.storage.setAlarm(now + RESUME_GRACE_MS);
    if (user) await this.redis(presenceGrace(this.presenceKeys(), user, now), "presence-grace");
  }

  /**
   * Every HEARTBEAT_MS while connections are open: `heartbeat` to each, connections silent for
   * IDLE_CLOSE_MS closed (a vanished or stuck client), presence renewed. With none open: the
   * state goes RESUME_GRACE_MS after the last one closed.
   */
  override async alarm(): Promise<void> {
    const now = Date.now();
    const beat = encodeServerMessage({ type: "heartbeat", at: new Date(now).toISOString() });
    let user: string | null = null;
    let open = 0;
    for (const ws of this.openSockets()) {
      const a = ws.deserializeAttachment() as Attachment;
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      if (Math.max(a.a, pinged) < now - IDLE_CLOSE_MS) {
        closeQuietly(ws, 4408, `idle: nothing received for ${IDLE_CLOSE_MS / 1000} s`);
        user = a.u;
        continue;
      }
      try {
        ws.send(beat);
        open++;
        user = a.u;
      } catch {
        // closing
      }
    }
    if (open > 0 && user) {
      await this.ctx.storage.setAlarm(now + HEARTBEAT_MS);
      await this.redis(presenceRenewal(this.presenceKeys(), user, now), "presence-renew");
      return;
    }
    if (user) {
      // Every connection was idle and is closed now.
      await this.lastClosed(user, now);
      return;
    }
    const closedAt = await this.ctx.storage.get<number>(CLOSED_AT_KEY);
    if (closedAt === undefined || now - closedAt >= RESUME_GRACE_MS) {
      this.state = undefined;
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.ctx.storage.setAlarm(closedAt + RESUME_GRACE_MS);
  }
}
