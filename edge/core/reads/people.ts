/**
 * Users as one viewer sees them, pure: one round trip reads each user's card and the viewer's
 * relation to them (follows either way, blocks either way). Who is hidden: a deleted or unknown
 * user (no card), and anyone the viewer blocks or is blocked by (never the viewer themselves).
 */
import type { IndexKeys } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import { CARD_FIELDS, memberships, parseCard, type UserCard } from "./shapes.ts";

export interface Person {
  card: UserCard | null;
  /** The viewer follows them. */
  followed: boolean;
  /** They follow the viewer. */
  followsViewer: boolean;
  /** Blocked either way (never for the viewer themselves). */
  blocked: boolean;
}

export interface PeoplePlan {
  ids: string[];
  viewerId: string | null;
  commands: Command[];
}

/** Per user one HMGET of the card; for a viewer, ZMSCORE following/followers and SMISMEMBER blocks. */
export function peopleReads(keys: IndexKeys, viewerId: string | null, ids: Iterable<string>): PeoplePlan {
  const unique = [...new Set(ids)];
  const commands: Command[] = unique.map((u) => ["HMGET", keys.profile(u), ...CARD_FIELDS]);
  if (viewerId && unique.length) {
    commands.push(
      ["ZMSCORE", keys.following(viewerId), ...unique],
      ["ZMSCORE", keys.followers(viewerId), ...unique],
      ["SMISMEMBER", keys.blocksOut(viewerId), ...unique],
      ["SMISMEMBER", keys.blocksIn(viewerId), ...unique],
    );
  }
  return { ids: unique, viewerId, commands };
}

export function parsePeople(plan: PeoplePlan, replies: unknown[]): Map<string, Person> {
  const n = plan.ids.length;
  const following = memberships(replies[n], n);
  const followers = memberships(replies[n + 1], n);
  const out = memberships(replies[n + 2], n);
  const inn = memberships(replies[n + 3], n);
  const people = new Map<string, Person>();
  plan.ids.forEach((u, i) => {
    people.set(u, {
      card: parseCard(u, replies[i]),
      followed: Boolean(following[i]),
      followsViewer: Boolean(followers[i]),
      blocked: u !== plan.viewerId && Boolean(out[i] || inn[i]),
    });
  });
  return people;
}

/** The card of someone the viewer may see, else null. */
export function visibleCard(p: Person | undefined): UserCard | null {
  return p && !p.blocked ? p.card : null;
}
