/**
 * One user's live state, pure: what the user's Durable Object keeps in its storage and sends.
 * Every change that alters what a client would show takes the next sequence number; each type
 * remembers the sequence of its last change, so a resume from event id N sends exactly the
 * types that changed after N, each once, as its current value (protocol.ts).
 */
import { type EventId, encodeEventId, NEW_POSTS_KEPT, type PublishMessage, type ServerMessage } from "./protocol.ts";

export type StateType = "new_posts" | "notifications";

export interface LiveState {
  /** Chosen when the state is made; a resume naming another epoch is answered `resync`. */
  epoch: string;
  /** The sequence of the last change. */
  seq: number;
  /** New posts of followees newer than the mark: [post id, created ms], newest first, at most NEW_POSTS_KEPT. */
  posts: [string, number][];
  /** Posts up to this time (ms) no longer count (the client's `new_posts_seen`). */
  postsMark: number;
  /** Sequence of the last change of the new-posts value (0: never). */
  postsSeq: number;
  unread: number;
  /** The time (ms) the unread count was computed at; an older publish is ignored. */
  unreadAt: number;
  unreadSeq: number;
}

export function newState(epoch: string): LiveState {
  return { epoch, seq: 0, posts: [], postsMark: 0, postsSeq: 0, unread: 0, unreadAt: 0, unreadSeq: 0 };
}

const postsValue = (s: LiveState) => ({
  count: s.posts.length,
  newest_at: s.posts.length ? new Date((s.posts[0] as [string, number])[1]).toISOString() : null,
});

/**
 * Applies published messages; returns the new state and the types whose value changed (each
 * change, however many messages made it, takes one sequence number per type).
 */
export function applyPublish(
  state: LiveState,
  messages: readonly PublishMessage[],
): { state: LiveState; changed: StateType[] } {
  const s: LiveState = { ...state, posts: [...state.posts] };
  let postsChanged = false;
  let unreadChanged = false;
  for (const m of messages) {
    if (m.type === "new_post") {
      if (m.at <= s.postsMark || s.posts.some(([id]) => id === m.post_id)) continue;
      const oldest = s.posts.length >= NEW_POSTS_KEPT ? (s.posts.at(-1) as [string, number])[1] : -1;
      if (s.posts.length >= NEW_POSTS_KEPT && m.at <= oldest) continue;
      s.posts.push([m.post_id, m.at]);
      s.posts.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
      s.posts.length = Math.min(s.posts.length, NEW_POSTS_KEPT);
      postsChanged = true;
    } else {
      if (m.at < s.unreadAt) continue;
      s.unreadAt = m.at;
      if (m.unread !== s.unread || s.unreadSeq === 0) {
        s.unread = m.unread;
        unreadChanged = true;
      }
    }
  }
  const changed: StateType[] = [];
  if (postsChanged) {
    s.seq++;
    s.postsSeq = s.seq;
    changed.push("new_posts");
  }
  if (unreadChanged) {
    s.seq++;
    s.unreadSeq = s.seq;
    changed.push("notifications");
  }
  return { state: s, changed };
}

/** The client started a new session that shows posts up to `untilMs`: only newer ones still count. */
export function markPostsSeen(state: LiveState, untilMs: number): { state: LiveState; changed: StateType[] } {
  if (!(untilMs > state.postsMark)) return { state, changed: [] };
  const posts = state.posts.filter(([, at]) => at > untilMs);
  const s: LiveState = { ...state, posts, postsMark: untilMs };
  if (posts.length === state.posts.length) return { state: s, changed: [] };
  s.seq++;
  s.postsSeq = s.seq;
  return { state: s, changed: ["new_posts"] };
}

/** The current value of a type, as a message carrying the sequence of that type's last change. */
export function messageOf(state: LiveState, type: StateType): ServerMessage {
  if (type === "new_posts") {
    return { type, id: encodeEventId({ epoch: state.epoch, seq: state.postsSeq }), ...postsValue(state) };
  }
  return { type, id: encodeEventId({ epoch: state.epoch, seq: state.unreadSeq }), unread: state.unread };
}

const seqOf = (state: LiveState, type: StateType) => (type === "new_posts" ? state.postsSeq : state.unreadSeq);

/**
 * The current values of `types`, oldest change first. Sends happen in this order, so on one
 * connection ids only grow: a client holding id N has received every change up to N, and the
 * id of the last message it received is the one to resume with.
 */
export function messagesOf(state: LiveState, types: Iterable<StateType>): ServerMessage[] {
  return [...new Set(types)].sort((a, b) => seqOf(state, a) - seqOf(state, b)).map((t) => messageOf(state, t));
}

/**
 * What a connection gets when it opens: `hello` (no id: it is not state), then `resync` when it
 * names an id this state cannot continue (another epoch, or a sequence it never reached; its id
 * is the epoch's start), then the current value of every type that changed after the id it
 * names (every type ever set, for a new connection or after `resync`), oldest change first.
 */
export function openingMessages(state: LiveState, last: EventId | null, heartbeatS: number): ServerMessage[] {
  const lost = last !== null && (last.epoch !== state.epoch || last.seq > state.seq);
  const after = last === null || lost ? 0 : last.seq;
  const out: ServerMessage[] = [{ type: "hello", heartbeat_s: heartbeatS, resumed: last !== null && !lost }];
  if (lost) out.push({ type: "resync", id: encodeEventId({ epoch: state.epoch, seq: 0 }) });
  const types = (["new_posts", "notifications"] as const).filter((t) => seqOf(state, t) > after);
  return [...out, ...messagesOf(state, types)];
}
