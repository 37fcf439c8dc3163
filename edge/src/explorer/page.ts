/**
 * The feed explorer page (GET /explore): plain HTML, its stylesheet and script served as
 * separate routes so the Content-Security-Policy can forbid every inline script and style.
 * The page itself holds no data; its script reads the public API with a pasted token.
 */
import type { RankingWeights } from "../../core/index.ts";

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

/** The page, with the configured ranking weights (numbers, validated by config.ts). */
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
  <p>A user's feed as they see it, with why each post ranks where it does. This page talks to the public API only (<code>GET /api/v1/feed?explain=1</code>, <code>PUT /api/v1/posts/:id/like</code>).</p>
</header>
<section class="panel" id="auth">
  <label>Bearer token <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJ…"></label>
  <label>Page size <input id="limit" type="number" min="1" max="100" value="10"></label>
  <button id="load" type="button">Load feed (new session)</button>
  <p class="hint">Pick a user by minting a development token for them locally: <code>npm run token -- &lt;user-id&gt;</code> (the last line printed is the token; <code>npm run dev</code> prints one for its demo user). Nothing here mints tokens.</p>
  <p id="who"></p>
</section>
<section class="panel" id="legend">
  <p id="formula"></p>
  <p>
    <span class="key key-freshness"></span> freshness × <span id="w-freshness"></span>
    <span class="key key-engagement"></span> engagement × <span id="w-engagement"></span>
    <span class="key key-affinity"></span> affinity × <span id="w-affinity"></span>
    — each bar is the base score, stacked from its weighted parts.
  </p>
  <p>Badges say why a post is a candidate: <span class="badge badge-follow">follow</span> you follow the author, <span class="badge badge-trending">trending</span> hot in the last hour, <span class="badge badge-affinity">affinity</span> an author you interact with.</p>
</section>
<p id="status" class="status" role="status"></p>
<p id="count"></p>
<ol id="items"></ol>
<button id="next" type="button" disabled>Next page</button>
<section class="panel" id="filtered">
  <h2>What was filtered, and why</h2>
  <p>Filtered posts are not listed: the server drops them before ranking and the public API does not return them (it would hand out posts the viewer must not see). What is dropped: posts of users the viewer blocked or who blocked the viewer, posts the viewer has seen (an impression in the last 7 days), deleted posts and posts of deleted users, and the viewer's own posts.</p>
</section>
<section class="panel" id="requests">
  <h2>Requests</h2>
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
`;
