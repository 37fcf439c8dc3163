/**
 * Opaque feed cursors. A cursor names the cached ranking it pages through and the offset of
 * the next item, so paging a cached ranking never repeats or skips even while scores change.
 * The encoding is base64url of `v1.<rankingId>.<offset>`; callers must treat it as opaque.
 */

import { fromBase64Url, toBase64Url } from "../base64url.ts";

export interface FeedCursor {
  /** Identifier of the ranking snapshot (generated when the ranking was built). */
  rankingId: string;
  /** Index of the next item in that ranking. */
  offset: number;
}

export class CursorError extends Error {
  override readonly name = "CursorError";
}

/** Upper bound on an offset: a ranking keeps at most a few hundred items. */
export const MAX_CURSOR_OFFSET = 10_000;
const RANKING_ID = /^[A-Za-z0-9_-]{6,64}$/;
const MAX_CURSOR_LENGTH = 200;

export function encodeCursor(c: FeedCursor): string {
  if (!RANKING_ID.test(c.rankingId)) throw new CursorError("invalid ranking id");
  if (!Number.isInteger(c.offset) || c.offset < 0 || c.offset > MAX_CURSOR_OFFSET) {
    throw new CursorError("invalid offset");
  }
  return toBase64Url(`v1.${c.rankingId}.${c.offset}`);
}

/** Decodes a cursor from a request; throws CursorError (a 400 for the caller) on anything malformed. */
export function decodeCursor(raw: string): FeedCursor {
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(raw)) {
    throw new CursorError("malformed cursor");
  }
  let text: string;
  try {
    text = fromBase64Url(raw);
  } catch {
    throw new CursorError("malformed cursor");
  }
  const m = /^v1\.([A-Za-z0-9_-]{6,64})\.(0|[1-9][0-9]{0,5})$/.exec(text);
  if (!m) throw new CursorError("malformed cursor");
  const offset = Number(m[2]);
  if (offset > MAX_CURSOR_OFFSET) throw new CursorError("cursor offset out of range");
  return { rankingId: m[1] as string, offset };
}
