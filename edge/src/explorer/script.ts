/**
 * The explorer's script, served as /explore/app.js (the page's CSP allows scripts from 'self'
 * only, and requires Trusted Types: no innerHTML anywhere). Every string from the API is put on
 * the page with textContent, dataset or an attribute; classes come from fixed lists; links are
 * built from ids with encodeURIComponent. Plain ES2020, no build. (No backslash or dollar-brace
 * in it: these are plain template literals.)
 *
 * Two parts. EXPLORER_MODEL_JS is pure (no DOM, no fetch): routes, names, and how a write of
 * the viewer's shows before the reads catch up. The reads come from the serving index, which
 * learns of a write through PostgreSQL and CDC a second or two later, so after a like, follow
 * or comment the page shows the write at once (optimistically) and keeps showing it over older
 * or lagging reads until a read made after the write agrees, or PENDING_MS pass; meanwhile it
 * re-reads until the API shows it. The model is unit-tested (script.test.ts); the rest is the
 * page: three views (feed, author, thread) chosen by the URL's fragment.
 */
export const EXPLORER_MODEL_JS = `function explorerModel() {
  const PENDING_MS = 30000;

  const plural = (n, one, many) => String(n) + " " + (n === 1 ? one : many);

  /** What to call a user: the display name, else the handle, else a short id. */
  const nameOf = (card) => {
    if (!card) return "unknown user";
    if (card.display_name) return String(card.display_name);
    if (card.handle) return "@" + String(card.handle);
    return "user " + String(card.id || "?").slice(0, 8);
  };
  const handleOf = (card) => (card && card.handle ? "@" + String(card.handle) : "");

  /** The view a fragment names: #/ the feed, #/user/<id> an author, #/post/<id> a thread. */
  function parseRoute(hash) {
    const parts = String(hash || "").replace(/^#/, "").split("/").filter(Boolean);
    let id = null;
    try {
      id = parts.length === 2 ? decodeURIComponent(parts[1]) : null;
    } catch {
      id = null;
    }
    if (id && parts[0] === "user") return { view: "author", id };
    if (id && parts[0] === "post") return { view: "thread", id };
    return { view: "feed", id: null };
  }
  const hrefOf = (view, id) =>
    view === "author" ? "#/user/" + encodeURIComponent(id) : view === "thread" ? "#/post/" + encodeURIComponent(id) : "#/";

  /** Keep the newest reading per key: t is when its request started. */
  function observe(map, key, value, t) {
    const cur = map.get(key);
    if (cur && cur.t > t) return false;
    map.set(key, { value, t });
    return true;
  }

  /**
   * A yes/no the viewer sets (liked, following) as shown: the pending write's value while it
   * is fresh and no read started after it agrees; else what the newest read said.
   * obs: {value, t} or undefined; pending: {value, at} or undefined.
   */
  function flagView(obs, pending, now) {
    const server = obs ? Boolean(obs.value) : false;
    if (!pending || now - pending.at > PENDING_MS) return { value: server, pending: false, settled: Boolean(pending) };
    if (obs && obs.t >= pending.at && server === pending.value) return { value: server, pending: false, settled: true };
    return { value: pending.value, pending: server !== pending.value, settled: false };
  }

  /** A count read together with a flag, as shown when the shown flag differs from the read one. */
  const countFor = (count, serverFlag, shownFlag) => {
    const n = Number(count) || 0;
    if (Boolean(serverFlag) === Boolean(shownFlag)) return n;
    return Math.max(0, n + (shownFlag ? 1 : -1));
  };

  /** list, then the items of incoming whose key is not in it yet (paging never repeats). */
  function mergeById(list, incoming, key) {
    const seen = new Set(list.map((x) => x[key]));
    const out = list.slice();
    for (const x of incoming) {
      if (seen.has(x[key])) continue;
      seen.add(x[key]);
      out.push(x);
    }
    return out;
  }

  /** A thread's comments as shown: those read, then the viewer's own not read back yet. */
  function threadComments(read, mine) {
    const ids = new Set(read.map((c) => c.comment_id));
    return read.concat(mine.filter((c) => !ids.has(c.comment_id)));
  }

  /** A comment as the API lists it, from the write's answer and the viewer's card. */
  const commentFromWrite = (created, me) => ({
    comment_id: String(created.id),
    post_id: String(created.post_id),
    author: me && me.id === created.author_id ? { id: me.id, handle: me.handle, display_name: me.display_name } : { id: String(created.author_id), handle: "", display_name: "" },
    created_at: String(created.created_at),
    text: String(created.text),
  });

  return { PENDING_MS, plural, nameOf, handleOf, parseRoute, hrefOf, observe, flagView, countFor, mergeById, threadComments, commentFromWrite };
}
`;

const APP_JS = `
  const M = explorerModel();
  const $ = (id) => document.getElementById(id);
  const SOURCES = ["follow", "trending", "affinity"];
  const PARTS = ["freshness", "engagement", "affinity"];
  const VIEWS = ["feed", "author", "thread"];
  const raw = (document.body.dataset.weights || "0.3,0.4,0.3").split(",").map(Number);
  const weights = { freshness: raw[0], engagement: raw[1], affinity: raw[2] };

  const state = {
    me: null,            // the viewer's card once GET /users/me answered
    meToken: "",         // the token it was read with
    viewer: "",          // whose token is in (its sub): the state below is theirs
    view: "feed",
    nav: 0,              // bumped on every navigation: an answer for an older view is dropped
    viewToken: "",       // the token the author or thread view was loaded with
    feedScroll: 0,
    feed: { items: [], cursor: null, busy: false, loaded: false },
    author: null,        // { id, ref, profile, profileT, posts, cursor, people }
    thread: null,        // { id, post, comments, cursor }
    // Newest readings: post id → {liked, counts}; author id → following.
    posts: new Map(),
    follows: new Map(),
    // The viewer's writes not yet read back: post id → {value, at}; user id → {value, at}.
    likes: new Map(),
    following: new Map(),
    // The viewer's comments per post (as listed), each with confirmed once the API lists it.
    myComments: new Map(),
    // Feed items whose engagement changed after a like: post id → [before, after].
    changed: new Map(),
    // Posts whose like or unlike is on its way (a second press waits for it).
    liking: new Set(),
    // The engagement watch of each liked feed post (a newer one replaces it).
    watching: new Map(),
  };

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const link = (cls, href, text) => {
    const a = el("a", cls, text);
    a.href = href;
    return a;
  };
  const button = (cls, text) => {
    const b = el("button", cls, text);
    b.type = "button";
    return b;
  };
  const fmt = (n, d = 3) => (typeof n === "number" && Number.isFinite(n) ? n.toFixed(d) : "–");
  const when = (iso) => {
    const d = new Date(String(iso));
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  };
  const timeEl = (iso) => {
    const t = el("time", "created", when(iso));
    t.dateTime = String(iso);
    return t;
  };
  const setStatus = (text, kind = "info") => {
    const s = $("status");
    s.textContent = text;
    s.className = "status status-" + (kind === "error" ? "error" : kind === "ok" ? "ok" : "info");
  };
  const errText = (e) => (e && e.message ? e.message : String(e));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const enc = encodeURIComponent;
  /** A user's path: a UUID, me, or @handle (the at sign as is: the API reads it from the path). */
  const userPath = (ref) =>
    "/api/v1/users/" + (String(ref).startsWith("@") ? "@" + enc(String(ref).slice(1)) : enc(String(ref)));

  $("formula").textContent =
    "score = (" + weights.freshness.toFixed(2) + " × freshness + " + weights.engagement.toFixed(2) +
    " × engagement + " + weights.affinity.toFixed(2) + " × affinity) × diversity multiplier";
  for (const p of PARTS) $("w-" + p).textContent = weights[p].toFixed(2);

  const token = () => $("token").value.trim();

  function claims() {
    const part = token().split(".")[1] || "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(json);
  }
  const viewerId = () => {
    try {
      return String(claims().sub).toLowerCase();
    } catch {
      return "";
    }
  };

  function showWho() {
    const who = $("who");
    if (!token()) { who.textContent = "No token yet."; return; }
    try {
      const c = claims();
      const exp = typeof c.exp === "number" ? new Date(c.exp * 1000).toISOString() : "?";
      const me = state.me && state.meToken === token() ? state.me : null;
      const name = me ? M.nameOf(me) + (me.handle ? " (@" + me.handle + ")" : "") + ", " : "";
      who.textContent = "Viewing as " + name + "user " + String(c.sub) + " (token expires " + exp + ")";
    } catch {
      who.textContent = "This does not look like a JWT; the API will say whether it accepts it.";
    }
  }

  function logRequest(method, path, res, ms) {
    const row = el("tr", "req");
    row.append(
      el("td", "req-method", method),
      el("td", "req-path", path.length > 80 ? path.slice(0, 77) + "…" : path),
      el("td", "req-status", res ? res.status : "network error"),
      el("td", "req-cache", res ? res.headers.get("x-cache") || "–" : "–"),
      el("td", "req-timing", res ? res.headers.get("server-timing") || "–" : "–"),
      el("td", "req-ms", fmt(ms, 0)),
    );
    const log = $("log");
    log.prepend(row);
    while (log.children.length > 50) log.lastElementChild.remove();
  }

  async function call(method, path, json) {
    const t0 = performance.now();
    const headers = { authorization: "Bearer " + token() };
    const init = { method, headers, cache: "no-store" };
    if (json !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    let res = null;
    try {
      res = await fetch(path, init);
    } finally {
      logRequest(method, path, res, performance.now() - t0);
    }
    let body = null;
    const type = res.headers.get("content-type") || "";
    const text = res.status === 204 ? "" : await res.text();
    if (text && type.includes("application/json")) body = JSON.parse(text);
    if (!res.ok) {
      const err = body && body.error ? body.error : { code: "http_" + res.status, message: res.statusText };
      const e = new Error(res.status + " " + String(err.code) + ": " + String(err.message));
      e.status = res.status;
      throw e;
    }
    return { res, body };
  }

  function limit() {
    const n = Number($("limit").value);
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 10;
  }
  const needToken = () => {
    if (token()) return false;
    setStatus("Paste a bearer token first (npm run token -- <user-id>).", "error");
    return true;
  };

  // ---- what is known of posts and follows ----------------------------------------------------

  /** Record what a read said about a post (and its author's follow state), read at t. */
  function remember(post, t) {
    M.observe(state.posts, post.post_id, { liked: Boolean(post.viewer && post.viewer.liked), counts: post.counts || {} }, t);
    if (post.viewer) M.observe(state.follows, post.author_id, Boolean(post.viewer.following_author), t);
  }

  /** A post's like state and counts as shown (the viewer's pending like over the reads). */
  function postView(id) {
    const obs = state.posts.get(id);
    const read = obs ? obs.value : { liked: false, counts: {} };
    const like = M.flagView(obs ? { value: read.liked, t: obs.t } : undefined, state.likes.get(id), Date.now());
    if (like.settled) state.likes.delete(id);
    const mine = (state.myComments.get(id) || []).filter((c) => !c.confirmed).length;
    return {
      liked: like.value,
      pending: like.pending,
      likes: M.countFor(read.counts.likes, read.liked, like.value),
      comments: (Number(read.counts.comments) || 0) + mine,
      shares: Number(read.counts.shares) || 0,
    };
  }

  function followView(userId) {
    const f = M.flagView(state.follows.get(userId), state.following.get(userId), Date.now());
    if (f.settled) state.following.delete(userId);
    return f;
  }

  // ---- a post card (feed, author's posts, thread) --------------------------------------------

  /**
   * A post as a card. opts.feed adds the ranking (badge, bar, numbers); opts.thread leaves out
   * the link to the thread (it is the thread).
   */
  function renderPost(post, opts) {
    const card = el(opts.tag || "li", "item post" + (opts.thread ? " thread-post" : ""));
    card.dataset.postId = String(post.post_id);
    card.dataset.authorId = String(post.author_id);
    const author = post.author || { id: post.author_id, handle: "", display_name: "" };
    const meta = el("div", "meta");
    if (opts.feed) {
      const source = SOURCES.includes(post.source) ? post.source : "other";
      meta.append(el("span", "badge badge-" + source, String(post.source)));
    }
    const name = link("author-link", M.hrefOf("author", post.author_id), M.nameOf(author));
    name.dataset.userId = String(post.author_id);
    meta.append(name);
    if (author.handle) meta.append(el("span", "handle", "@" + String(author.handle)));
    const tag = el("span", "following-tag", "Following");
    tag.hidden = true;
    meta.append(tag, timeEl(post.created_at));
    card.append(meta, el("p", "text", post.text));
    if (opts.feed) card.append(...explainParts(post, opts.scale));
    const counts = el("p", "counts");
    counts.append(
      el("span", "likes"), el("span", "comments-count"), el("span", "shares"),
    );
    const actions = el("div", "actions");
    const like = button("like", "Like");
    like.addEventListener("click", () => toggleLike(post));
    actions.append(like);
    if (!opts.thread) actions.append(link("open-thread", M.hrefOf("thread", post.post_id), "Open thread"));
    actions.append(el("span", "pending"));
    card.append(counts, actions);
    paintPost(card);
    return card;
  }

  /** The parts of a card that follow the viewer's state: like, counts, following. */
  function paintPost(card) {
    const v = postView(card.dataset.postId);
    const like = card.querySelector("button.like");
    like.setAttribute("aria-pressed", v.liked ? "true" : "false");
    like.setAttribute("aria-disabled", state.liking.has(card.dataset.postId) ? "true" : "false");
    like.title = v.liked ? "You like this; press to take the like back" : "Like this post";
    const likes = card.querySelector(".likes");
    likes.textContent = M.plural(v.likes, "like", "likes");
    likes.dataset.n = String(v.likes);
    const comments = card.querySelector(".comments-count");
    comments.textContent = M.plural(v.comments, "comment", "comments");
    comments.dataset.n = String(v.comments);
    const shares = card.querySelector(".shares");
    shares.textContent = M.plural(v.shares, "share", "shares");
    shares.dataset.n = String(v.shares);
    card.querySelector(".pending").textContent = v.pending ? "saved; the reads catch up in a moment" : "";
    const following = followView(card.dataset.authorId).value && card.dataset.authorId !== viewerId();
    card.querySelector(".following-tag").hidden = !following;
    card.dataset.following = following ? "true" : "false";
  }

  /** Repaint every card of a post (or of an author's posts) wherever it is shown. */
  function repaint(match) {
    for (const card of document.querySelectorAll(".post")) if (match(card)) paintPost(card);
  }

  function explainParts(item, scale) {
    const x = item.explain || {};
    const bar = el("div", "bar");
    bar.title = "weighted parts of the base score";
    const nums = el("div", "numbers");
    for (const p of PARTS) {
      const part = weights[p] * (Number(x[p]) || 0);
      const seg = el("span", "seg seg-" + p);
      seg.style.width = Math.max(0, Math.min(100, (part / scale) * 100)) + "%";
      seg.dataset.value = String(x[p]);
      bar.append(seg);
      const n = el("span", "num num-" + p);
      n.append(el("span", "num-label", p + " "), el("span", "val val-" + p, fmt(x[p])));
      n.append(el("span", "num-weighted", " × " + weights[p].toFixed(2) + " = " + fmt(part)));
      nums.append(n);
    }
    const total = el("div", "total");
    total.append(
      el("span", "val-base", "base " + fmt(x.base_score)),
      el("span", "val-diversity", " × diversity " + fmt(x.diversity_multiplier)),
      el("span", "val-score", " = score " + fmt(item.score)),
    );
    const out = [bar, nums, total];
    const change = state.changed.get(item.post_id);
    if (change) out.push(el("p", "change", "engagement " + fmt(change[0]) + " → " + fmt(change[1]) + " in a new session after your like (the bar shows the new session's)"));
    return out;
  }

  // ---- views -----------------------------------------------------------------------------------

  function showView(view) {
    if (state.view === "feed" && view !== "feed") state.feedScroll = window.scrollY;
    state.view = view;
    for (const v of VIEWS) $("view-" + v).hidden = v !== view;
    $("to-feed").hidden = view === "feed";
    const mine = view === "author" && state.author && (state.author.ref === "me" || state.author.id === viewerId());
    if (mine) $("to-me").setAttribute("aria-current", "page");
    else $("to-me").removeAttribute("aria-current");
    document.title = view === "feed" ? "Feed explorer" : view === "author" ? "Author · Feed explorer" : "Thread · Feed explorer";
  }

  /** Move focus to a view's heading once it is shown (screen readers read where they are). */
  const focusHeading = (id) => $(id).focus({ preventScroll: false });

  function route(focus) {
    const r = M.parseRoute(location.hash);
    state.nav++;
    if (r.view === "feed") {
      showView("feed");
      renderFeed();
      window.scrollTo(0, state.feedScroll);
      if (focus) focusHeading("feed-title");
      return;
    }
    if (needToken()) { showView(r.view); return; }
    state.viewToken = token();
    if (r.view === "author") openAuthor(r.id, focus);
    else openThread(r.id, focus);
  }

  // ---- the feed --------------------------------------------------------------------------------

  async function fetchPage(cursor, n) {
    const q = new URLSearchParams({ limit: String(n || limit()), explain: "1" });
    if (cursor) q.set("cursor", cursor);
    const t = Date.now();
    const { res, body } = await call("GET", "/api/v1/feed?" + q.toString());
    const items = Array.isArray(body.items) ? body.items : [];
    for (const i of items) remember(i, t);
    return { items, next: body.next_cursor || null, cache: res.headers.get("x-cache") };
  }

  function renderFeed() {
    const f = state.feed;
    const scale = Math.max(1, ...f.items.map((i) => (i.explain ? Number(i.explain.base_score) || 0 : 0)));
    $("items").replaceChildren(...f.items.map((i) => renderPost(i, { feed: true, scale })));
    $("count").textContent = !f.loaded ? "No feed loaded yet." :
      f.items.length + " items shown" + (f.cursor ? "; more on the next page" : "; end of this session");
    $("next").disabled = f.busy || !f.cursor;
    $("load").disabled = f.busy;
  }

  async function feedTask(what, fn) {
    const f = state.feed;
    if (f.busy || needToken()) return;
    f.busy = true;
    renderFeed();
    setStatus(what + "…");
    try {
      await fn(f); // into this feed: another token's answer never lands in the next one's
    } catch (e) {
      setStatus(what + " failed: " + errText(e), "error");
    } finally {
      f.busy = false;
      if (state.view === "feed") renderFeed();
    }
  }

  /** The viewer's own card (for their comments and the who line); once per token. */
  async function loadMe() {
    if (state.meToken === token() && state.me) return;
    try {
      const { body } = await call("GET", "/api/v1/users/me");
      state.me = { id: String(body.id), handle: String(body.handle), display_name: String(body.display_name) };
      state.meToken = token();
    } catch {
      state.me = null; // the profile may not be in the index yet: the page works without it
    }
    showWho();
  }

  $("load").addEventListener("click", () => {
    if (location.hash && location.hash !== "#/") location.hash = "#/";
    feedTask("Loading a new session", async (f) => {
      state.changed.clear();
      loadMe();
      const p = await fetchPage(null);
      f.items = p.items;
      f.cursor = p.next;
      f.loaded = true;
      state.feedScroll = 0;
      setStatus("New session: " + p.items.length + " items (X-Cache " + String(p.cache) + ")", "ok");
    });
  });
  $("next").addEventListener("click", () =>
    feedTask("Loading the next page", async (f) => {
      const p = await fetchPage(f.cursor);
      f.items = M.mergeById(f.items, p.items, "post_id");
      f.cursor = p.next;
      setStatus("Next page: " + p.items.length + " more items (X-Cache " + String(p.cache) + ")", "ok");
    }),
  );

  // ---- likes -----------------------------------------------------------------------------------

  async function toggleLike(post) {
    const id = String(post.post_id);
    if (needToken() || state.liking.has(id)) return;
    const want = !postView(id).liked;
    const prior = state.likes.get(id);
    state.liking.add(id);
    state.likes.set(id, { value: want, at: Date.now() });
    repaint((c) => c.dataset.postId === id);
    try {
      await call(want ? "PUT" : "DELETE", "/api/v1/posts/" + enc(id) + "/like");
      // Pending from the write's answer on: only reads started after it can agree with it.
      state.likes.set(id, { value: want, at: Date.now() });
    } catch (e) {
      if (prior) state.likes.set(id, prior);
      else state.likes.delete(id);
      setStatus((want ? "Liking" : "Taking the like back") + " failed: " + errText(e), "error");
      return;
    } finally {
      state.liking.delete(id);
      repaint((c) => c.dataset.postId === id);
    }
    setStatus(want ? "Liked." : "Like taken back.", "ok");
    const confirmed = await confirmLike(id, want);
    const feedItem = state.feed.items.find((i) => i.post_id === id);
    if (want && confirmed && feedItem && feedItem.explain) await watchEngagement(feedItem);
  }

  /** Re-read the post until the API shows the viewer's like (or its absence). */
  async function confirmLike(id, want) {
    for (let i = 0; i < 20; i++) {
      const t = Date.now();
      try {
        const { body } = await call("GET", "/api/v1/posts/" + enc(id));
        remember(body, t);
        if (Boolean(body.viewer && body.viewer.liked) === want) {
          repaint((c) => c.dataset.postId === id);
          setStatus((want ? "Liked" : "Like taken back") + ": the API shows " + M.plural(postView(id).likes, "like", "likes"), "ok");
          return true;
        }
      } catch (e) {
        if (e.status !== 404) { setStatus("Reading the post back failed: " + errText(e), "error"); return false; }
      }
      if (state.likes.has(id) && state.likes.get(id).value !== want) return false; // toggled again
      await sleep(500);
    }
    repaint((c) => c.dataset.postId === id);
    return false;
  }

  /**
   * After a like of a feed post: start new sessions (of up to 100 posts, the displayed one
   * stays as it is) until the post's engagement changes, and show the change on its card.
   */
  async function watchEngagement(item) {
    const id = item.post_id;
    const before = Number(item.explain.engagement);
    const run = {};
    state.watching.set(id, run);
    for (let i = 0; i < 30; i++) {
      // Only while the feed is shown, for the newest like of the post while it stands.
      if (state.watching.get(id) !== run || !postView(id).liked || state.view !== "feed") return;
      setStatus("Liked; waiting for a new session to rank it with the like (try " + (i + 1) + ")…");
      const p = await fetchPage(null, 100);
      const now = p.items.find((x) => x.post_id === id);
      if (now && now.explain && Number(now.explain.engagement) !== before) {
        const after = Number(now.explain.engagement);
        state.changed.set(id, [before, after]);
        item.explain = now.explain;
        item.score = now.score;
        state.watching.delete(id);
        if (state.view === "feed") renderFeed();
        setStatus("Liked: engagement " + fmt(before) + " → " + fmt(after) + " in a new session", "ok");
        return;
      }
      await sleep(500);
    }
    setStatus("Liked, but no new session ranked it with a changed engagement yet (it may have left the first 100).", "error");
  }

  // ---- the author view ----------------------------------------------------------------------

  async function openAuthor(ref, focus) {
    const nav = state.nav;
    const a = { ref, id: null, profile: null, profileT: 0, posts: [], cursor: null, people: null };
    state.author = a;
    showView("author");
    $("author-name").textContent = "Loading…";
    $("author-handle").textContent = "";
    $("author-bio").textContent = "";
    $("author-relation").textContent = "";
    $("follow").hidden = true;
    $("people-panel").hidden = true;
    for (const b of ["show-followers", "show-following"]) $(b).setAttribute("aria-expanded", "false");
    $("author-posts").replaceChildren();
    $("author-posts-end").textContent = "";
    $("author-more").hidden = true;
    for (const n of ["author-posts-count", "author-followers", "author-following"]) $(n).textContent = "–";
    setStatus("Loading the author…");
    const t = Date.now();
    const [profile, posts] = await Promise.allSettled([
      call("GET", userPath(ref)),
      call("GET", userPath(ref) + "/posts?limit=" + limit()),
    ]);
    if (nav !== state.nav) return;
    if (profile.status === "rejected") {
      $("author-name").textContent = "Not found";
      $("author-bio").textContent = "No such user to see: unknown, deleted, blocked — or not in the serving index yet.";
      setStatus("Loading the author failed: " + errText(profile.reason), "error");
      if (focus) focusHeading("author-name");
      return;
    }
    a.profile = profile.value.body;
    a.profileT = t;
    a.id = String(a.profile.id);
    M.observe(state.follows, a.id, Boolean(a.profile.viewer.following), t);
    showView("author");
    paintProfile();
    if (posts.status === "fulfilled") addAuthorPosts(posts.value.body, t);
    else $("author-posts-end").textContent = "Could not read the posts: " + errText(posts.reason);
    setStatus("Author " + M.nameOf(a.profile) + ": " + M.plural(a.posts.length, "post", "posts") + " shown", "ok");
    if (focus) focusHeading("author-name");
  }

  function paintProfile() {
    const a = state.author;
    const p = a.profile;
    $("author-name").textContent = M.nameOf(p);
    $("author-handle").textContent = M.handleOf(p);
    const bio = $("author-bio");
    bio.textContent = p.bio ? String(p.bio) : "No bio.";
    bio.classList.toggle("hint", !p.bio);
    const self = a.id === viewerId();
    const f = M.flagView({ value: Boolean(p.viewer.following), t: a.profileT }, state.following.get(a.id), Date.now());
    const posts = Number(p.counts.posts) || 0;
    const followers = M.countFor(p.counts.followers, p.viewer.following, f.value);
    $("author-posts-count").textContent = String(posts);
    $("author-posts-label").textContent = posts === 1 ? "post" : "posts";
    $("author-followers").textContent = String(followers);
    $("author-followers-label").textContent = followers === 1 ? "follower" : "followers";
    $("author-following").textContent = String(Number(p.counts.following) || 0);
    const rel = [];
    if (self) rel.push("This is you.");
    else {
      rel.push(f.value ? "You follow " + M.nameOf(p) + "." : "You do not follow " + M.nameOf(p) + ".");
      if (p.viewer.followed_by) rel.push("Follows you.");
      if (f.pending) rel.push("(saved; the reads catch up in a moment)");
    }
    $("author-relation").textContent = rel.join(" ");
    const btn = $("follow");
    btn.hidden = self;
    btn.textContent = f.value ? "Unfollow" : "Follow";
    btn.dataset.following = f.value ? "true" : "false";
  }

  function addAuthorPosts(page, t) {
    const a = state.author;
    const items = Array.isArray(page.items) ? page.items : [];
    for (const p of items) remember(p, t);
    const merged = M.mergeById(a.posts, items, "post_id");
    const fresh = merged.slice(a.posts.length);
    a.posts = merged;
    a.cursor = page.next_cursor || null;
    $("author-posts").append(...fresh.map((p) => renderPost(p, {})));
    $("author-more").hidden = !a.cursor;
    $("author-posts-end").textContent = a.cursor ? "" : a.posts.length ? "That is all of their posts." : "No posts yet.";
  }

  $("author-more").addEventListener("click", async () => {
    const a = state.author;
    if (!a || !a.cursor || needToken()) return;
    const nav = state.nav;
    const btn = $("author-more");
    btn.disabled = true;
    setStatus("Loading more posts…");
    try {
      const t = Date.now();
      const { body } = await call("GET", userPath(a.id) + "/posts?limit=" + limit() + "&cursor=" + enc(a.cursor));
      if (nav !== state.nav) return;
      const n = a.posts.length;
      addAuthorPosts(body, t);
      setStatus(M.plural(a.posts.length - n, "more post", "more posts") + " (" + a.posts.length + " shown)", "ok");
    } catch (e) {
      setStatus("Loading more posts failed: " + errText(e), "error");
    } finally {
      btn.disabled = false;
    }
  });

  $("follow").addEventListener("click", async () => {
    const a = state.author;
    if (!a || !a.profile || needToken()) return;
    const id = a.id;
    const want = !followView(id).value;
    const btn = $("follow");
    btn.disabled = true;
    try {
      await call(want ? "PUT" : "DELETE", "/api/v1/follows/" + enc(id));
      state.following.set(id, { value: want, at: Date.now() });
      if (state.author === a) paintProfile();
      repaint((c) => c.dataset.authorId === id);
      setStatus(want ? "Following " + M.nameOf(a.profile) + "." : "Unfollowed " + M.nameOf(a.profile) + ".", "ok");
    } catch (e) {
      setStatus((want ? "Following" : "Unfollowing") + " failed: " + errText(e), "error");
      return;
    } finally {
      btn.disabled = false;
    }
    // Re-read the profile until it shows the follow (then its counts are the API's).
    for (let i = 0; i < 20; i++) {
      await sleep(500);
      if (state.author !== a) return;
      const t = Date.now();
      try {
        const { body } = await call("GET", userPath(id));
        if (state.author !== a) return;
        a.profile = body;
        a.profileT = t;
        M.observe(state.follows, id, Boolean(body.viewer.following), t);
        paintProfile();
        if (Boolean(body.viewer.following) === want) {
          setStatus((want ? "Following " : "Unfollowed ") + M.nameOf(body) + ": the API shows " + M.plural(Number(body.counts.followers), "follower", "followers"), "ok");
          return;
        }
      } catch (e) {
        setStatus("Reading the profile back failed: " + errText(e), "error");
        return;
      }
    }
  });

  /** Followers or following of the shown author, in the panel under the profile. */
  async function showPeople(kind, more) {
    const a = state.author;
    if (!a || !a.id || needToken()) return;
    const nav = state.nav;
    if (!more) {
      a.people = { kind, items: [], cursor: null };
      $("people-title").textContent = kind === "followers" ? "Followers of " + M.nameOf(a.profile) : M.nameOf(a.profile) + " follows";
      $("people").replaceChildren();
      $("people-panel").hidden = false;
      $("show-followers").setAttribute("aria-expanded", kind === "followers" ? "true" : "false");
      $("show-following").setAttribute("aria-expanded", kind === "following" ? "true" : "false");
    }
    const pl = a.people;
    const q = "?limit=" + limit() + (more && pl.cursor ? "&cursor=" + enc(pl.cursor) : "");
    setStatus("Loading " + kind + "…");
    try {
      const { body } = await call("GET", userPath(a.id) + "/" + kind + q);
      if (nav !== state.nav || a.people !== pl) return;
      const items = (Array.isArray(body.items) ? body.items : []).filter((u) => !pl.items.some((x) => x.id === u.id));
      pl.items = pl.items.concat(items);
      pl.cursor = body.next_cursor || null;
      $("people").append(...items.map(renderPerson));
      if (!pl.items.length) $("people").append(el("li", "hint", kind === "followers" ? "No followers yet." : "Follows no one yet."));
      $("people-more").hidden = !pl.cursor;
      setStatus(M.plural(pl.items.length, "user", "users") + " in " + kind, "ok");
    } catch (e) {
      setStatus("Loading " + kind + " failed: " + errText(e), "error");
    }
  }

  function renderPerson(u) {
    const li = el("li", "person");
    li.dataset.userId = String(u.id);
    li.append(link("author-link", M.hrefOf("author", u.id), M.nameOf(u)));
    if (u.handle) li.append(el("span", "handle", "@" + String(u.handle)));
    if (String(u.id) === viewerId()) li.append(el("span", "following-tag", "You"));
    else {
      if (u.viewer && u.viewer.following) li.append(el("span", "following-tag", "Following"));
      if (u.viewer && u.viewer.followed_by) li.append(el("span", "following-tag", "Follows you"));
    }
    return li;
  }

  $("show-followers").addEventListener("click", () => showPeople("followers", false));
  $("show-following").addEventListener("click", () => showPeople("following", false));
  $("people-more").addEventListener("click", () => showPeople(state.author && state.author.people ? state.author.people.kind : "followers", true));

  // ---- the thread view ------------------------------------------------------------------------

  async function openThread(id, focus) {
    const nav = state.nav;
    const th = { id, post: null, comments: [], cursor: null };
    state.thread = th;
    showView("thread");
    $("thread-title").textContent = "Thread";
    $("thread-post").replaceChildren(el("p", "hint", "Loading…"));
    $("comments").replaceChildren();
    $("comments-end").textContent = "";
    $("comments-more").hidden = true;
    $("comment-form").hidden = true;
    setStatus("Loading the thread…");
    const t = Date.now();
    const [post, comments] = await Promise.allSettled([
      call("GET", "/api/v1/posts/" + enc(id)),
      call("GET", "/api/v1/posts/" + enc(id) + "/comments?order=oldest&limit=" + limit()),
    ]);
    if (nav !== state.nav) return;
    if (post.status === "rejected") {
      $("thread-title").textContent = "Post not found";
      $("thread-post").replaceChildren(el("p", "hint", "No such post to see: deleted, its author blocked — or not in the serving index yet."));
      setStatus("Loading the thread failed: " + errText(post.reason), "error");
      if (focus) focusHeading("thread-title");
      return;
    }
    th.post = post.value.body;
    remember(th.post, t);
    $("thread-title").textContent = "Thread: " + M.nameOf(th.post.author) + "'s post";
    $("thread-post").replaceChildren(renderPost(th.post, { tag: "article", thread: true }));
    $("comment-form").hidden = false;
    if (comments.status === "fulfilled") addComments(comments.value.body);
    else $("comments-end").textContent = "Could not read the comments: " + errText(comments.reason);
    setStatus("Thread: " + M.plural(th.comments.length, "comment", "comments") + " shown", "ok");
    if (focus) focusHeading("thread-title");
  }

  function addComments(page) {
    const th = state.thread;
    th.comments = M.mergeById(th.comments, Array.isArray(page.items) ? page.items : [], "comment_id");
    th.cursor = page.next_cursor || null;
    renderComments();
  }

  function renderComments() {
    const th = state.thread;
    // The viewer's own: until the API lists them, or once the list is read to its end.
    const mine = (state.myComments.get(th.id) || []).filter((c) => !c.confirmed || !th.cursor);
    const shown = M.threadComments(th.comments, mine);
    $("comments").replaceChildren(...shown.map((c) => renderComment(c, !th.comments.some((x) => x.comment_id === c.comment_id))));
    $("comments-title").textContent = "Comments (" + postView(th.id).comments + ")";
    $("comments-more").hidden = !th.cursor;
    $("comments-end").textContent = th.cursor ? "Older first; more below." : shown.length ? "" : "No comments yet.";
  }

  function renderComment(c, local) {
    const li = el("li", "comment" + (local ? " comment-local" : ""));
    li.dataset.commentId = String(c.comment_id);
    const meta = el("div", "meta");
    const name = link("author-link", M.hrefOf("author", c.author.id), M.nameOf(c.author));
    meta.append(name);
    if (c.author.handle) meta.append(el("span", "handle", "@" + String(c.author.handle)));
    meta.append(timeEl(c.created_at));
    if (local) meta.append(el("span", "pending", c.confirmed ? "yours, just now" : "yours, saved; the thread catches up in a moment"));
    li.append(meta, el("p", "text", c.text));
    return li;
  }

  $("comments-more").addEventListener("click", async () => {
    const th = state.thread;
    if (!th || !th.cursor || needToken()) return;
    const nav = state.nav;
    const btn = $("comments-more");
    btn.disabled = true;
    setStatus("Loading more comments…");
    try {
      const { body } = await call("GET", "/api/v1/posts/" + enc(th.id) + "/comments?order=oldest&limit=" + limit() + "&cursor=" + enc(th.cursor));
      if (nav !== state.nav) return;
      const n = th.comments.length;
      addComments(body);
      setStatus(M.plural(th.comments.length - n, "more comment", "more comments"), "ok");
    } catch (e) {
      setStatus("Loading more comments failed: " + errText(e), "error");
    } finally {
      btn.disabled = false;
    }
  });

  $("comment-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const th = state.thread;
    const box = $("comment-text");
    const text = box.value.trim();
    if (!th || !th.post || needToken()) return;
    if (!text) { setStatus("Write something first.", "error"); box.focus(); return; }
    const send = $("comment-send");
    send.disabled = true;
    setStatus("Adding the comment…");
    let c;
    try {
      await loadMe();
      const { body } = await call("POST", "/api/v1/posts/" + enc(th.id) + "/comments", { text });
      c = M.commentFromWrite(body.comment, state.me);
      c.confirmed = false;
      state.myComments.set(th.id, (state.myComments.get(th.id) || []).concat([c]));
      box.value = "";
      if (state.thread === th) renderComments();
      repaint((card) => card.dataset.postId === th.id);
      setStatus("Comment added.", "ok");
    } catch (e) {
      setStatus("Adding the comment failed: " + errText(e), "error");
      return;
    } finally {
      send.disabled = false;
    }
    await confirmComment(th.id, c);
  });

  /** Re-read the newest comments until the API lists the viewer's new one, then the post's counts. */
  async function confirmComment(postId, c) {
    for (let i = 0; i < 20; i++) {
      await sleep(500);
      try {
        const { body } = await call("GET", "/api/v1/posts/" + enc(postId) + "/comments?order=newest&limit=10");
        if (!(body.items || []).some((x) => x.comment_id === c.comment_id)) continue;
        const t = Date.now();
        const post = await call("GET", "/api/v1/posts/" + enc(postId));
        c.confirmed = true;
        remember(post.body, t);
        if (state.thread && state.thread.id === postId) renderComments();
        repaint((card) => card.dataset.postId === postId);
        setStatus("Comment added: the API lists it (" + M.plural(postView(postId).comments, "comment", "comments") + ")", "ok");
        return;
      } catch (e) {
        setStatus("Reading the comments back failed: " + errText(e), "error");
        return;
      }
    }
  }

  $("comment-text").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("comment-form").requestSubmit();
  });

  // ---- start -------------------------------------------------------------------------------------

  /** Another user's token: nothing read or written for the last one stays. */
  function forget() {
    for (const m of [state.posts, state.follows, state.likes, state.following, state.myComments, state.changed, state.watching]) m.clear();
    state.liking.clear();
    state.me = null;
    state.meToken = "";
    state.feed = { items: [], cursor: null, busy: false, loaded: false };
    state.author = null;
    state.thread = null;
    state.nav++;
    if (state.view === "feed") renderFeed();
  }

  $("token").addEventListener("input", () => {
    const v = viewerId();
    if (v !== state.viewer) {
      state.viewer = v;
      forget();
    }
    showWho();
  });
  $("token").addEventListener("change", () => {
    // A view opened without a token (or with another one) loads once the token is in.
    if (state.view !== "feed" && token() && token() !== state.viewToken) route(false);
  });
  window.addEventListener("hashchange", () => route(true));

  // ---- live channel: the "N new posts" pill and the unread count, without reloading --------------

  const live = { ws: null, token: "", lastId: "", newestAt: null, ping: 0, retry: 0 };
  function liveConnect() {
    const t = token();
    if (!t || (live.ws && live.token === t && live.ws.readyState <= 1)) return;
    if (live.ws) live.ws.close(1000, "token changed");
    if (live.token !== t) live.lastId = "";
    live.token = t;
    const url = new URL("/api/v1/live", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (live.lastId) url.searchParams.set("last_event_id", live.lastId);
    const ws = new WebSocket(url.toString(), ["feed-live.v1", "bearer." + t]);
    live.ws = ws;
    $("live-state").textContent = "Live: connecting…";
    ws.addEventListener("open", () => {
      $("live-state").textContent = "Live: connected";
      live.retry = 0;
      clearInterval(live.ping);
      live.ping = setInterval(() => ws.readyState === 1 && ws.send("ping"), 25000);
    });
    ws.addEventListener("message", (e) => {
      if (e.data === "pong") return;
      let m;
      try {
        m = JSON.parse(String(e.data));
      } catch {
        return;
      }
      if (m.id) live.lastId = String(m.id);
      if (m.type === "new_posts") {
        const n = Number(m.count) || 0;
        live.newestAt = m.newest_at || null;
        const pill = $("new-posts");
        pill.textContent = M.plural(n, "new post", "new posts");
        pill.hidden = n === 0;
      } else if (m.type === "notifications") {
        $("unread").textContent = String(Number(m.unread) || 0);
      } else if (m.type === "resync") {
        live.lastId = String(m.id || "");
      }
    });
    ws.addEventListener("close", () => {
      clearInterval(live.ping);
      if (live.ws !== ws) return;
      $("live-state").textContent = "Live: reconnecting…";
      live.retry = Math.min(30000, (live.retry || 1000) * 2);
      setTimeout(() => live.ws === ws && liveConnect(), live.retry);
    });
  }
  $("new-posts").addEventListener("click", () => {
    const ws = live.ws;
    if (ws && ws.readyState === 1 && live.newestAt) ws.send(JSON.stringify({ type: "new_posts_seen", until: live.newestAt }));
    $("new-posts").hidden = true;
    $("load").click();
  });
  $("load").addEventListener("click", liveConnect);
  $("token").addEventListener("change", liveConnect);
  showWho();
  route(false);
`;

export const EXPLORER_JS = `"use strict";
(() => {
${EXPLORER_MODEL_JS}
${APP_JS}
})();
`;
