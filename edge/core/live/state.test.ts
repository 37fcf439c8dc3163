import { describe, expect, it } from "vitest";
import { NEW_POSTS_KEPT, type PublishMessage, parseEventId } from "./protocol.ts";
import { applyPublish, type LiveState, markPostsSeen, messagesOf, newState, openingMessages } from "./state.ts";

const U = "11111111-1111-4111-8111-111111111111";
const post = (n: number, at: number): PublishMessage => ({
  type: "new_post",
  user: U,
  post_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
  at,
});
const unread = (n: number, at: number): PublishMessage => ({ type: "unread", user: U, unread: n, at });
const seqs = (s: LiveState, last: string | null) =>
  openingMessages(s, last ? parseEventId(last) : null, 30).map((m) => [m.type, "id" in m ? m.id : null]);

describe("live state", () => {
  it("counts a followee's post once, however often it is published, newest first", () => {
    let s = newState("abcdef01");
    s = applyPublish(s, [post(1, 1000), post(1, 1000), post(2, 2000)]).state;
    const again = applyPublish(s, [post(2, 2000)]);
    expect(again.changed).toEqual([]);
    expect(again.state.seq).toBe(s.seq);
    expect(messagesOf(s, ["new_posts"])).toEqual([
      { type: "new_posts", id: "abcdef01.1", count: 2, newest_at: new Date(2000).toISOString() },
    ]);
  });

  it("keeps at most NEW_POSTS_KEPT posts, the newest", () => {
    let s = newState("abcdef01");
    const many = Array.from({ length: NEW_POSTS_KEPT + 20 }, (_, i) => post(i, 1000 + i));
    s = applyPublish(s, many).state;
    expect(s.posts).toHaveLength(NEW_POSTS_KEPT);
    expect(s.posts.at(-1)?.[1]).toBe(1020);
    expect(applyPublish(s, [post(999, 1)]).changed).toEqual([]);
  });

  it("ignores an unread count older than the one held, and a repeat of the same value", () => {
    let s = newState("abcdef01");
    s = applyPublish(s, [unread(3, 5000)]).state;
    expect(applyPublish(s, [unread(1, 4000)]).changed).toEqual([]);
    expect(applyPublish(s, [unread(3, 6000)]).changed).toEqual([]);
    const r = applyPublish(s, [unread(0, 6000)]);
    expect(r.changed).toEqual(["notifications"]);
    expect(r.state.unread).toBe(0);
  });

  it("a seen mark drops the posts up to it and only ever rises", () => {
    let s = newState("abcdef01");
    s = applyPublish(s, [post(1, 1000), post(2, 2000)]).state;
    const r = markPostsSeen(s, 1500);
    expect(r.changed).toEqual(["new_posts"]);
    expect(r.state.posts.map(([, at]) => at)).toEqual([2000]);
    expect(markPostsSeen(r.state, 1200).changed).toEqual([]);
    expect(applyPublish(r.state, [post(3, 1400)]).changed).toEqual([]);
  });

  it("a resume gets each type changed after its id, once, oldest change first; another epoch gets resync", () => {
    let s = newState("abcdef01");
    s = applyPublish(s, [post(1, 1000)]).state; // seq 1
    s = applyPublish(s, [unread(1, 1000)]).state; // seq 2
    s = applyPublish(s, [post(2, 2000)]).state; // seq 3
    expect(seqs(s, null)).toEqual([
      ["hello", null],
      ["notifications", "abcdef01.2"],
      ["new_posts", "abcdef01.3"],
    ]);
    expect(seqs(s, "abcdef01.2")).toEqual([
      ["hello", null],
      ["new_posts", "abcdef01.3"],
    ]);
    expect(seqs(s, "abcdef01.3")).toEqual([["hello", null]]);
    expect(seqs(s, "abcdef01.9")[1]).toEqual(["resync", "abcdef01.0"]);
    expect(seqs(s, "00000000.1").map(([t]) => t)).toEqual(["hello", "resync", "notifications", "new_posts"]);
    expect(openingMessages(s, parseEventId("abcdef01.1"), 30)[0]).toMatchObject({ resumed: true });
    expect(openingMessages(s, parseEventId("00000000.1"), 30)[0]).toMatchObject({ resumed: false });
  });
});
