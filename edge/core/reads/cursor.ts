/**
 * Cursors of the read side's lists (an author's posts, a post's comments, followers, following):
 * a keyset position (the last served entry's score and id) bound to the list it came from, so
 * paging never repeats or skips while new entries arrive, and a cursor of another list (or a
 * tampered one) is a 400. Opaque to clients: base64url of a small JSON.
 */
import { z } from "zod";
import { fromBase64Url, toBase64Url } from "../base64url.ts";

export const LIST_KINDS = ["posts", "comments", "comments-newest", "followers", "following"] as const;
export type ListKind = (typeof LIST_KINDS)[number];

export interface ListCursor {
  kind: ListKind;
  /** The list's owner: the author, the post, or the user whose graph it is. */
  owner: string;
  /** The last served entry's score (epoch ms) and id. */
  score: number;
  id: string;
}

export class ListCursorError extends Error {}

const wire = z
  .object({
    k: z.enum(LIST_KINDS),
    o: z.string().min(1).max(64),
    s: z.number().int().min(0).max(8.64e15),
    i: z.string().min(1).max(64),
  })
  .strict();

export function encodeListCursor(c: ListCursor): string {
  return toBase64Url(JSON.stringify({ k: c.kind, o: c.owner, s: c.score, i: c.id }));
}

/** The cursor, checked to belong to this list; ListCursorError otherwise. */
export function decodeListCursor(raw: string, kind: ListKind, owner: string): ListCursor {
  let parsed: z.infer<typeof wire>;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(raw)) throw new ListCursorError("cursor is malformed");
    parsed = wire.parse(JSON.parse(fromBase64Url(raw)));
  } catch (err) {
    if (err instanceof ListCursorError) throw err;
    throw new ListCursorError("cursor is malformed");
  }
  if (parsed.k !== kind || parsed.o !== owner) throw new ListCursorError("cursor belongs to another list");
  return { kind: parsed.k, owner: parsed.o, score: parsed.s, id: parsed.i };
}
