/**
 * What the read side answers, as the public API shows it: users (a card, a profile), posts
 * hydrated for a viewer (author, live counts, the viewer's state) and comments. Pure types and
 * the parsers of the index's profile replies.
 */
import { decodeAuthorCard } from "../keys.ts";

export interface UserCard {
  id: string;
  handle: string;
  display_name: string;
}

export interface PostCountsOut {
  likes: number;
  comments: number;
  shares: number;
}

export interface PostViewerOut {
  liked: boolean;
  following_author: boolean;
}

/** A post ready to render. `viewer` is null where no one is signed in (trending). */
export interface PostOut {
  post_id: string;
  author_id: string;
  author: UserCard;
  created_at: string;
  text: string;
  counts: PostCountsOut;
  viewer: PostViewerOut | null;
}

export interface ProfileOut extends UserCard {
  bio: string;
  created_at: string;
  counts: { followers: number; following: number; posts: number };
  /** The viewer's relation to this user (all false on one's own profile). */
  viewer: { following: boolean; followed_by: boolean; blocking: boolean };
}

/** A user in a followers/following list, with the viewer's relation. */
export interface ListedUser extends UserCard {
  viewer: { following: boolean; followed_by: boolean };
}

export interface CommentOut {
  comment_id: string;
  post_id: string;
  author: UserCard;
  created_at: string;
  text: string;
}

/** A user's profile fields as `profile(u)` holds them (h, n, b, c), or null when absent. */
export interface ProfileFields {
  handle: string;
  displayName: string;
  bio: string;
  createdMs: number;
}

/** An HMGET reply: a list in field order (RESP) or an object by field (Upstash), or null. */
export function hmgetValues(reply: unknown, fields: readonly string[]): (string | null)[] {
  if (Array.isArray(reply)) return fields.map((_, i) => (reply[i] == null ? null : String(reply[i])));
  if (reply && typeof reply === "object") {
    const o = reply as Record<string, unknown>;
    return fields.map((f) => (o[f] == null ? null : String(o[f])));
  }
  return fields.map(() => null);
}

export const PROFILE_FIELDS = ["h", "n", "b", "c"] as const;

/** The reply of `HMGET profile(u) h n b c`: null when the user is deleted or unknown. */
export function parseProfile(reply: unknown): ProfileFields | null {
  const [h, n, b, c] = hmgetValues(reply, PROFILE_FIELDS);
  if (h === null || h === undefined) return null;
  return { handle: h, displayName: n ?? "", bio: b ?? "", createdMs: Number(c ?? 0) };
}

export const CARD_FIELDS = ["h", "n"] as const;

/** The reply of `HMGET profile(u) h n` as a card, or null when the user is deleted or unknown. */
export function parseCard(userId: string, reply: unknown): UserCard | null {
  const [h, n] = hmgetValues(reply, CARD_FIELDS);
  if (h === null || h === undefined) return null;
  return { id: userId, handle: h, display_name: n ?? "" };
}

/** The author hash's `_u` as a card (null when the hash has none). */
export function cardFromAuthorHash(authorId: string, value: string | null | undefined): UserCard | null {
  const c = decodeAuthorCard(value);
  return c ? { id: authorId, handle: c.handle, display_name: c.displayName } : null;
}

/** A Redis boolean-ish reply (1, "1", true, a score) as a boolean. */
export function truthyReply(v: unknown): boolean {
  return v !== null && v !== undefined && v !== 0 && v !== "0" && v !== false;
}

/** A list reply of SMISMEMBER / ZMSCORE as booleans, one per member. */
export function memberships(reply: unknown, n: number): boolean[] {
  const a = Array.isArray(reply) ? reply : [];
  return Array.from({ length: n }, (_, i) => truthyReply(a[i]));
}

export const iso = (ms: number): string => new Date(ms).toISOString();
