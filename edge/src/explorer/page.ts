/**
 * The feed explorer page (GET /explore): plain HTML, its stylesheet and script served as
 * separate routes so the Content-Security-Policy can forbid every inline script and style.
 * The page itself holds no data; its script reads the public API with a pasted token.
 */
import type { RankingWeights } from "#core/ranking/score.ts";

export { EXPLORER_JS } from "./script.ts";

/** The page's policy: nothing inline, nothing from elsewhere, no innerHTML (Trusted Types). */
export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

/**
 * The page, with the configured ranking weights (numbers, validated by config.ts). Three views
 * in one document, one shown at a time by the script from the URL's fragment: the feed (#/),
 * an author (#/user/<id>: profile, their posts, followers and following) and a thread
 * (#/post/<id>: the post, its comments, a box to add one). Each view is a section with its own
 * heading; navigation is links, actions are buttons.
 */
export function explorerHtml(w: RankingWeights): string {
  const weights = [w.freshness, w.engagement, w.affinity].map((n) => String(Number(n))).join(",");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Feed explorer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/explore/app.css">
<script src="/explore/app.js" defer></script>
</head>
<body data-weights="${weights}">
<header>
  <h1>Feed explorer</h1>
  <p>A user's feed as they see it, with why each post ranks where it does; open an author or a thread, like, follow and comment. This page talks to the public API only (<code>GET /api/v1/feed?explain=1</code>, <code>/api/v1/users/:id</code>, <code>/api/v1/posts/:id</code> and their writes).</p>
</header>
<section class="panel" id="auth" aria-label="Who is viewing">
  <label>Bearer token <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ…"></label>
  <label>Page size <input id="limit" type="number" min="1" max="100" value="10"></label>
  <button id="load" type="button">Load feed (new session)</button>
  <p class="hint">Pick a user by minting a development token for them locally: <code>npm run token -- &lt;user-id&gt;</code> (the last line printed is the token; <code>npm run dev</code> prints one for its demo user). Nothing here mints tokens.</p>
  <p id="who"></p>
</section>
<section class="panel" id="live" aria-label="Live">
  <p><span id="live-state">Live: not connected</span> <button id="new-posts" type="button" hidden>0 new posts</button></p>
  <p id="notifications-panel">Notifications: <output id="unread">–</output> unread</p>
</section>
<nav id="nav" aria-label="Explorer">
  <a id="to-feed" href="#/">← Back to the feed</a>
  <a id="to-me" href="#/user/me">My profile</a>
</nav>
<p id="status" class="status" role="status" aria-live="polite"></p>
<main>
<section id="view-feed" class="view" aria-labelledby="feed-title">
  <h2 id="feed-title" tabindex="-1">Feed</h2>
  <div class="panel" id="legend">
    <p id="formula"></p>
    <p>
      <span class="key key-freshness"></span> freshness × <span id="w-freshness"></span>
      <span class="key key-engagement"></span> engagement × <span id="w-engagement"></span>
      <span class="key key-affinity"></span> affinity × <span id="w-affinity"></span>
      — each bar is the base score, stacked from its weighted parts.
    </p>
    <p>Badges say why a post is a candidate: <span class="badge badge-follow">follow</span> you follow the author, <span class="badge badge-trending">trending</span> hot in the last hour, <span class="badge badge-affinity">affinity</span> an author you interact with.</p>
  </div>
  <p id="count"></p>
  <ol id="items" class="posts" aria-labelledby="feed-title"></ol>
  <button id="next" type="button" disabled>Next page</button>
  <section class="panel" id="filtered" aria-labelledby="filtered-title">
    <h3 id="filtered-title">What was filtered, and why</h3>
    <p>Filtered posts are not listed: the server drops them before ranking and the public API does not return them (it would hand out posts the viewer must not see). What is dropped: posts of users the viewer blocked or who blocked the viewer, posts the viewer has seen (an impression in the last 7 days), deleted posts and posts of deleted users, and the viewer's own posts.</p>
  </section>
</section>
<section id="view-author" class="view" aria-labelledby="author-name" hidden>
  <article class="panel profile" id="profile" aria-labelledby="author-name">
    <h2 id="author-name" tabindex="-1">Author</h2>
    <p id="author-handle" class="handle"></p>
    <p id="author-bio" class="bio"></p>
    <ul class="profile-counts" aria-label="Counts">
      <li><span id="author-posts-count" class="n">–</span> <span id="author-posts-label">posts</span></li>
      <li><button id="show-followers" type="button" class="linkish" aria-controls="people" aria-expanded="false"><span id="author-followers" class="n">–</span> <span id="author-followers-label">followers</span></button></li>
      <li><button id="show-following" type="button" class="linkish" aria-controls="people" aria-expanded="false"><span id="author-following" class="n">–</span> following</button></li>
    </ul>
    <p id="author-relation" class="relation"></p>
    <button id="follow" type="button" hidden>Follow</button>
  </article>
  <section id="people-panel" class="panel" aria-labelledby="people-title" hidden>
    <h3 id="people-title">Followers</h3>
    <ul id="people" class="people"></ul>
    <button id="people-more" type="button" hidden>Load more people</button>
  </section>
  <h3 id="author-posts-title">Posts</h3>
  <ol id="author-posts" class="posts" aria-labelledby="author-posts-title"></ol>
  <p id="author-posts-end" class="hint"></p>
  <button id="author-more" type="button" hidden>Load more posts</button>
</section>
<section id="view-thread" class="view" aria-labelledby="thread-title" hidden>
  <h2 id="thread-title" tabindex="-1">Thread</h2>
  <div id="thread-post"></div>
  <h3 id="comments-title">Comments</h3>
  <ol id="comments" class="comments" aria-labelledby="comments-title"></ol>
  <p id="comments-end" class="hint"></p>
  <button id="comments-more" type="button" hidden>Load more comments</button>
  <form id="comment-form" class="panel" aria-labelledby="comment-label">
    <label id="comment-label" for="comment-text">Add a comment</label>
    <textarea id="comment-text" rows="3" maxlength="1000" required></textarea>
    <button id="comment-send" type="submit">Comment</button>
  </form>
</section>
</main>
<section class="panel" id="requests" aria-labelledby="requests-title">
  <h2 id="requests-title">Requests</h2>
  <table>
    <thead><tr><th>method</th><th>path</th><th>status</th><th>X-Cache</th><th>Server-Timing</th><th>ms</th></tr></thead>
    <tbody id="log"></tbody>
  </table>
</section>
</body>
</html>
`;
}

export const EXPLORER_CSS = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 16px; color: #1d232b; background: #f6f7f9; }
h1 { margin: 0 0 4px; font-size: 22px; }
h2 { font-size: 16px; margin: 0 0 6px; }
code { background: #e8ebef; padding: 0 3px; border-radius: 3px; }
.panel { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 10px 14px; margin: 10px 0; }
label { margin-right: 12px; }
#token { width: 420px; max-width: 100%; }
#limit { width: 60px; }
button { cursor: pointer; padding: 4px 10px; }
.hint, #who, #count { color: #56606b; }
.status { min-height: 1.4em; font-weight: 600; }
.status-error { color: #b3261e; }
.status-ok { color: #1e7a34; }
#items { list-style: none; padding: 0; }
.item { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 10px 14px; margin: 8px 0; }
.meta { display: flex; gap: 10px; align-items: center; color: #56606b; font-size: 12px; }
.text { margin: 6px 0; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; font-weight: 600; color: #fff; background: #6b7280; }
.badge-follow { background: #2563eb; }
.badge-trending { background: #d9480f; }
.badge-affinity { background: #7c3aed; }
.bar { display: flex; height: 14px; background: #eef0f3; border-radius: 3px; overflow: hidden; margin: 6px 0 4px; }
.seg { display: block; height: 100%; }
.seg-freshness, .key-freshness { background: #0ea5e9; }
.seg-engagement, .key-engagement { background: #f59e0b; }
.seg-affinity, .key-affinity { background: #10b981; }
.key { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: middle; margin-left: 8px; }
.numbers { display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; font-variant-numeric: tabular-nums; }
.total { font-size: 12px; margin: 2px 0 6px; font-variant-numeric: tabular-nums; }
.change { color: #1e7a34; font-weight: 600; margin: 2px 0; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { text-align: left; border-bottom: 1px solid #eef0f3; padding: 2px 6px; vertical-align: top; }
.req-timing, .req-path { overflow-wrap: anywhere; }
[hidden] { display: none !important; }
a { color: #1d4ed8; }
:focus-visible { outline: 2px solid #2563eb; outline-offset: 2px; }
#nav { display: flex; gap: 16px; margin: 6px 0; }
#nav a[aria-current="page"] { font-weight: 600; color: #1d232b; text-decoration: none; }
.view > h2 { font-size: 18px; margin: 12px 0 4px; }
.view h3 { font-size: 15px; margin: 14px 0 4px; }
.posts, .comments, .people { list-style: none; padding: 0; margin: 0; }
.author-link { font-weight: 600; color: #1d232b; }
.handle { color: #56606b; }
.following-tag { border: 1px solid #2563eb; color: #2563eb; border-radius: 10px; padding: 0 6px; font-size: 11px; }
.counts { display: flex; gap: 12px; color: #56606b; font-size: 12px; font-variant-numeric: tabular-nums; margin: 4px 0; }
.actions { display: flex; gap: 10px; align-items: center; margin-top: 6px; }
.like { border: 1px solid #c9ced6; background: #fff; border-radius: 14px; }
.like::before { content: "♡ "; }
.like[aria-pressed="true"] { background: #fde2e4; border-color: #e11d48; color: #9f1239; }
.like[aria-pressed="true"]::before { content: "♥ "; }
.like[aria-disabled="true"] { opacity: 0.6; cursor: progress; }
.pending { color: #8a5a00; font-size: 11px; }
.profile h2 { margin: 0; font-size: 20px; }
.profile .handle { margin: 0 0 6px; }
.bio { white-space: pre-wrap; overflow-wrap: anywhere; margin: 6px 0; }
.profile-counts { display: flex; gap: 16px; list-style: none; padding: 0; margin: 6px 0; font-variant-numeric: tabular-nums; }
.profile-counts .n { font-weight: 600; }
.linkish { background: none; border: none; padding: 0; color: #1d4ed8; text-decoration: underline; font: inherit; }
.linkish[aria-expanded="true"] { font-weight: 600; }
.relation { color: #56606b; margin: 4px 0; }
#follow { border-radius: 14px; }
#follow[data-following="true"] { background: #fff; }
#follow[data-following="false"] { background: #2563eb; color: #fff; border: 1px solid #2563eb; }
.people li { padding: 4px 0; border-bottom: 1px solid #eef0f3; display: flex; gap: 8px; align-items: baseline; }
.comment { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 6px 12px; margin: 6px 0; }
.comment-local { border-style: dashed; }
.thread-post { border-width: 2px; }
#comment-form { display: flex; flex-direction: column; gap: 6px; }
#comment-text { font: inherit; width: 100%; box-sizing: border-box; }
#comment-form button { align-self: flex-start; }
`;
