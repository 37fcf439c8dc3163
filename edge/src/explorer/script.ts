/**
 * The explorer's script, served as /explore/app.js (the page's CSP allows scripts from 'self'
 * only, and requires Trusted Types: no innerHTML anywhere). Every string from the API is put on
 * the page with textContent or dataset; classes come from fixed lists. Plain ES2020, no build.
 * (No backslash or dollar-brace in it: it is a plain template literal.)
 */
export const EXPLORER_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SOURCES = ["follow", "trending", "affinity"];
  const PARTS = ["freshness", "engagement", "affinity"];
  const raw = (document.body.dataset.weights || "0.3,0.4,0.3").split(",").map(Number);
  const weights = { freshness: raw[0], engagement: raw[1], affinity: raw[2] };
  const state = { items: [], cursor: null, busy: false, liked: new Set(), changed: new Map() };

  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  const fmt = (n, d = 3) => (typeof n === "number" && Number.isFinite(n) ? n.toFixed(d) : "–");
  const setStatus = (text, kind = "info") => {
    const s = $("status");
    s.textContent = text;
    s.className = "status status-" + (kind === "error" ? "error" : kind === "ok" ? "ok" : "info");
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  $("formula").textContent =
    "score = (" + weights.freshness.toFixed(2) + " × freshness + " + weights.engagement.toFixed(2) +
    " × engagement + " + weights.affinity.toFixed(2) + " × affinity) × diversity multiplier";
  for (const p of PARTS) $("w-" + p).textContent = weights[p].toFixed(2);

  const token = () => $("token").value.trim();

  function showWho() {
    const who = $("who");
    const t = token();
    if (!t) { who.textContent = "No token yet."; return; }
    try {
      const part = t.split(".")[1] || "";
      const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
      const claims = JSON.parse(json);
      const exp = typeof claims.exp === "number" ? new Date(claims.exp * 1000).toISOString() : "?";
      who.textContent = "Viewing as user " + String(claims.sub) + " (token expires " + exp + ")";
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

  async function call(method, path) {
    const t0 = performance.now();
    let res = null;
    try {
      res = await fetch(path, { method, headers: { authorization: "Bearer " + token() }, cache: "no-store" });
    } finally {
      logRequest(method, path, res, performance.now() - t0);
    }
    let body = null;
    const type = res.headers.get("content-type") || "";
    const text = res.status === 204 ? "" : await res.text();
    if (text && type.includes("application/json")) body = JSON.parse(text);
    if (!res.ok) {
      const err = body && body.error ? body.error : { code: "http_" + res.status, message: res.statusText };
      throw new Error(res.status + " " + String(err.code) + ": " + String(err.message));
    }
    return { res, body };
  }

  function limit() {
    const n = Number($("limit").value);
    return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 10;
  }

  async function fetchPage(cursor) {
    const q = new URLSearchParams({ limit: String(limit()), explain: "1" });
    if (cursor) q.set("cursor", cursor);
    const { res, body } = await call("GET", "/api/v1/feed?" + q.toString());
    return { items: Array.isArray(body.items) ? body.items : [], next: body.next_cursor || null, cache: res.headers.get("x-cache") };
  }

  function renderItem(item, scale) {
    const li = el("li", "item");
    li.dataset.postId = String(item.post_id);
    const source = SOURCES.includes(item.source) ? item.source : "other";
    const meta = el("div", "meta");
    meta.append(
      el("span", "badge badge-" + source, String(item.source)),
      el("span", "author", "by " + String(item.author_id)),
      el("time", "created", String(item.created_at)),
    );
    li.append(meta, el("p", "text", item.text));
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
    const change = state.changed.get(item.post_id);
    if (change) li.append(el("p", "change", "engagement " + fmt(change[0]) + " → " + fmt(change[1]) + " after your like"));
    const btn = el("button", "like", state.liked.has(item.post_id) ? "Liked" : "Like");
    btn.type = "button";
    btn.disabled = state.liked.has(item.post_id);
    btn.addEventListener("click", () => like(item));
    li.append(bar, nums, total, btn);
    return li;
  }

  function render() {
    const list = $("items");
    const scale = Math.max(1, ...state.items.map((i) => (i.explain ? Number(i.explain.base_score) || 0 : 0)));
    list.replaceChildren(...state.items.map((i) => renderItem(i, scale)));
    $("count").textContent = state.items.length + " items shown" + (state.cursor ? "; more on the next page" : "; end of this session");
    $("next").disabled = state.busy || !state.cursor;
    $("load").disabled = state.busy;
  }

  async function run(what, fn) {
    if (state.busy) return;
    if (!token()) { setStatus("Paste a bearer token first (npm run token -- <user-id>).", "error"); return; }
    state.busy = true;
    render();
    setStatus(what + "…");
    try {
      await fn();
    } catch (e) {
      setStatus(what + " failed: " + (e && e.message ? e.message : String(e)), "error");
    } finally {
      state.busy = false;
      render();
    }
  }

  async function newSession() {
    const page = await fetchPage(null);
    state.items = page.items;
    state.cursor = page.next;
    return page;
  }

  $("load").addEventListener("click", () =>
    run("Loading a new session", async () => {
      state.changed.clear();
      const p = await newSession();
      setStatus("New session: " + p.items.length + " items (X-Cache " + String(p.cache) + ")", "ok");
    }),
  );
  $("next").addEventListener("click", () =>
    run("Loading the next page", async () => {
      const p = await fetchPage(state.cursor);
      state.items = state.items.concat(p.items);
      state.cursor = p.next;
      setStatus("Next page: " + p.items.length + " more items (X-Cache " + String(p.cache) + ")", "ok");
    }),
  );

  function like(item) {
    const id = String(item.post_id);
    const before = item.explain ? Number(item.explain.engagement) : Number.NaN;
    return run("Liking", async () => {
      await call("PUT", "/api/v1/posts/" + encodeURIComponent(id) + "/like");
      state.liked.add(id);
      // The like reaches the serving index through the origin, PostgreSQL and CDC: a new
      // session shows it within a couple of seconds. Start new sessions until it does.
      for (let i = 0; i < 30; i++) {
        setStatus("Liked; waiting for a new session to show it (try " + (i + 1) + ")…");
        await newSession();
        const now = state.items.find((x) => x.post_id === id);
        if (now && now.explain && Number(now.explain.engagement) !== before) {
          state.changed.set(id, [before, Number(now.explain.engagement)]);
          setStatus("Liked: engagement " + fmt(before) + " → " + fmt(Number(now.explain.engagement)) + " in a new session", "ok");
          return;
        }
        render();
        await sleep(500);
      }
      setStatus("Liked, but no new session showed a changed engagement yet (the post may have left the first page).", "error");
    });
  }

  $("token").addEventListener("input", showWho);
  showWho();
  render();
})();
`;
