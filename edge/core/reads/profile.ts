/**
 * A user as a viewer may see them, pure: the reads of one round trip (the profile, its three
 * counts, the viewer's relation and the blocks both ways) and the rule that hides them. A
 * deleted or unknown user, or one the viewer blocks or is blocked by, is not visible (the
 * routes answer 404 for all alike, so a block is not revealed).
 */
import type { IndexKeys } from "../keys.ts";
import type { Command } from "../serving/read.ts";
import { iso, PROFILE_FIELDS, type ProfileFields, type ProfileOut, parseProfile, truthyReply } from "./shapes.ts";

/** The commands of `userReads`, in order. */
export function userReads(keys: IndexKeys, viewerId: string, userId: string): Command[] {
  return [
    ["HMGET", keys.profile(userId), ...PROFILE_FIELDS],
    ["ZCARD", keys.followers(userId)],
    ["ZCARD", keys.following(userId)],
    ["ZCARD", keys.userPosts(userId)],
    ["ZSCORE", keys.following(viewerId), userId],
    ["ZSCORE", keys.followers(viewerId), userId],
    ["SISMEMBER", keys.blocksOut(viewerId), userId],
    ["SISMEMBER", keys.blocksIn(viewerId), userId],
  ];
}

export const USER_READS = 8;

export interface UserView {
  userId: string;
  profile: ProfileFields | null;
  followers: number;
  following: number;
  posts: number;
  viewerFollows: boolean;
  followsViewer: boolean;
  viewerBlocks: boolean;
  blocksViewer: boolean;
  self: boolean;
}

export function parseUserReads(viewerId: string, userId: string, replies: unknown[]): UserView {
  const [profile, followers, following, posts, vf, fv, vb, bv] = replies;
  return {
    userId,
    profile: parseProfile(profile),
    followers: Number(followers ?? 0),
    following: Number(following ?? 0),
    posts: Number(posts ?? 0),
    viewerFollows: truthyReply(vf),
    followsViewer: truthyReply(fv),
    viewerBlocks: truthyReply(vb),
    blocksViewer: truthyReply(bv),
    self: viewerId === userId,
  };
}

/** Whether the viewer may see this user (and their posts, lists and threads). */
export function visible(u: UserView): boolean {
  if (!u.profile) return false;
  if (u.self) return true;
  return !u.viewerBlocks && !u.blocksViewer;
}

export function presentProfile(u: UserView): ProfileOut | null {
  if (!visible(u) || !u.profile) return null;
  return {
    id: u.userId,
    handle: u.profile.handle,
    display_name: u.profile.displayName,
    bio: u.profile.bio,
    created_at: iso(u.profile.createdMs),
    counts: { followers: u.followers, following: u.following, posts: u.posts },
    viewer: u.self
      ? { following: false, followed_by: false, blocking: false }
      : { following: u.viewerFollows, followed_by: u.followsViewer, blocking: u.viewerBlocks },
  };
}
