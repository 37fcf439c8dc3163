/**
 * The feed explorer (/explore) in a real browser: Debian's chromium driven by playwright-core,
 * against the real worker (wrangler dev) on the serving index, with users (handles, display
 * names, a bio), follows, posts and comments written through the real stack. The walk: a
 * seeded user's feed with a pasted token (authors by handle and name, counts, badges, bars),
 * paging, a like that changes the post's count, pressed state and engagement bar (and is taken
 * back), the author view (profile, followers, follow/unfollow, posts paged) against the API,
 * the thread view (the post, comments oldest first, paged) and a comment added from the page,
 * then back to the feed. Screenshots of the author and thread views go to docs/images/.
 * Chromium is installed with apt when missing (scripts/lib/chromium.ts); where it cannot be
 * had the browser test skips with a loud message. Also: the page's CSP, and the 404 when
 * EXPLORER_ENABLED is off.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedItemOut } from "#core/feed/present.ts";
import type { CommentOut, ListedUser, PostOut, ProfileOut } from "#core/reads/shapes.ts";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { startWranglerDev } from "../../scripts/lib/wrangler.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

const RESULTS = resolve(import.meta.dirname, "../../.stack/test-results");
const SCREENSHOT = resolve(RESULTS, "explorer.png");
const DOCS_SCREENSHOT = resolve(RESULTS, "docs.png");
/**
 * The docs' screenshots of the author and thread views: into docs/images when asked
 * (EXPLORER_SCREENSHOTS=1, to refresh the committed ones), else beside the other results.
 */
const IMAGES = process.env.EXPLORER_SCREENSHOTS
  ? resolve(import.meta.dirname, "../../docs/images")
  : resolve(RESULTS, "images");
const AUTHOR_SCREENSHOT = resolve(IMAGES, "explorer-author.png");
const THREAD_SCREENSHOT = resolve(IMAGES, "explorer-thread.png");

const browserOutcome = ensureChromium();
if ("skip" in browserOutcome) {
  console.warn(
    `\n${"!".repeat(78)}\n!! SKIPPING the explorer's browser test: ${browserOutcome.skip}\n${"!".repeat(78)}\n`,
  );
}
const chromiumPath = "path" in browserOutcome ? browserOutcome.path : null;

interface Page_<T> {
  items: T[];
  next_cursor: string | null;
}

describe("feed explorer (/explore)", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let browser: Browser | null = null;
  const viewer = randomUUID();
  const authors: [string, string] = [randomUUID(), randomUUID()];
  const users: string[] = [viewer, ...authors];
  const handles: string[] = [];
  const names = ["Vera Viewer", "Ada Author", "Bo Author"];
  const bio = "Writes about <b>feeds</b> & ranking.\nSecond line.";
  const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;
  /** Each author's post ids, oldest first. */
  const postsOf: [string[], string[]] = [[], []];
  /** The thread the walk opens: author 1's first post, with three comments. */
  let threadPost = "";
  const commentTexts = ["first! by author 1", "a reply by author 0", "the viewer's <em>comment</em>"];
  const commenters: string[] = [authors[1], authors[0], viewer];

  /** GET through the API as the viewer, 200 expected. */
  const read = async <T>(path: string): Promise<T> => (await (await w.ok(w.api(viewer, "GET", path), 200)).json()) as T;

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, vars: { EXPLORER_ENABLED: "1" } });
    for (const [i, u] of users.entries()) {
      handles.push(`ex${h.id}_${i}`);
      const profile = { handle: handles[i], display_name: names[i], ...(i === 1 ? { bio } : {}) };
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", profile), 200);
    }
    for (const a of authors) await w.ok(w.api(viewer, "PUT", `/api/v1/follows/${a}`), 204);
    for (const [i, a] of authors.entries())
      for (let k = 0; k < 6; k++) {
        const text = k === 0 && i === 0 ? hostile : `post ${k} by author ${i}`;
        const r = await w.ok(w.api(a, "POST", "/api/v1/posts", { text }), 201);
        postsOf[i as 0 | 1].push(((await r.json()) as { post: { id: string } }).post.id);
      }
    threadPost = postsOf[1][0] as string;
    for (const [k, text] of commentTexts.entries())
      await w.ok(w.api(commenters[k] as string, "POST", `/api/v1/posts/${threadPost}/comments`, { text }), 201);
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 30_000, "the index to be ready");
    await waitFor(
      async () => {
        const r = await w.api(viewer, "GET", "/api/v1/feed?limit=100");
        return r.ok && ((await r.json()) as { items: FeedItemOut[] }).items.length === 12;
      },
      30_000,
      "the viewer's 12 followee posts",
    );
    await waitFor(
      async () => {
        const r = await w.api(viewer, "GET", `/api/v1/users/@${handles[1]}`);
        if (!r.ok) return false;
        const p = (await r.json()) as ProfileOut;
        return p.bio === bio && p.counts.posts === 6 && p.counts.followers === 1 && p.viewer.following;
      },
      30_000,
      "author 0's profile (bio, 6 posts, the viewer following)",
    );
    await waitFor(
      async () => {
        const r = await w.api(viewer, "GET", `/api/v1/posts/${threadPost}/comments?limit=100`);
        return r.ok && ((await r.json()) as Page_<CommentOut>).items.length === 3;
      },
      30_000,
      "the thread's 3 comments",
    );
  }, 300_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await w?.stop();
    await h?.teardown();
  }, 60_000);
  it("serves the page, its script and stylesheet publicly under a strict Content-Security-Policy", async () => {
    const page = await fetch(`${w.edge.url}/explore`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("require-trusted-types-for 'script'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    const html = await page.text();
    expect(html).not.toMatch(/<script>|<style>|\son\w+=/); // nothing inline
    expect(html).toContain('data-weights="0.3,0.4,0.3"');
    const js = await fetch(`${w.edge.url}/explore/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await js.text()).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect((await fetch(`${w.edge.url}/explore/app.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("is a 404 in the error envelope when EXPLORER_ENABLED is off (the default)", async () => {
    const vars = Object.fromEntries(Object.entries(w.vars).filter(([k]) => k !== "EXPLORER_ENABLED"));
    const off = await startWranglerDev({ config: "wrangler.toml", vars });
    try {
      for (const path of ["/explore", "/explore/app.js", "/explore/app.css"]) {
        const r = await fetch(`${off.url}${path}`);
        expect(r.status, path).toBe(404);
        expect(r.headers.get("content-type")).toMatch(/^application\/json/);
        expect(((await r.json()) as { error: { code: string } }).error.code).toBe("not_found");
      }
    } finally {
      await off.stop();
    }
  }, 120_000);

  it.skipIf(!chromiumPath)(
    "in chromium: the feed with authors and counts, a like, the author view and the thread view with a new comment, as the API has them",
    async () => {
      const t0 = Date.now();
      browser = await chromium.launch({ executablePath: chromiumPath as string, headless: true, args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()}`));
      const status = page.locator("#status");
      const n = async (l: Locator) => Number(await l.getAttribute("data-n"));

      // ---- the feed -----------------------------------------------------------------------------
      await page.goto(`${w.edge.url}/explore`);
      await expect.poll(() => page.locator("#formula").textContent()).toContain("0.40 × engagement");
      await page.fill("#token", await devToken(viewer, 3600, w.jwtSecret));
      await expect.poll(() => page.locator("#who").textContent()).toContain(viewer);
      await page.fill("#limit", "5");
      await page.click("#load");

      const items = page.locator("#items > li.item");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(5);
      // Who is viewing, by name, once /users/me answered.
      await expect.poll(() => page.locator("#who").textContent()).toContain(`${names[0]} (@${handles[0]})`);
      expect(await page.locator("#items .badge-follow").count()).toBe(5);
      expect(await page.locator("#items .bar .seg-freshness").count()).toBe(5);
      const widths = await page
        .locator("#items .seg-freshness")
        .evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
      expect(widths.every((px) => px > 0)).toBe(true);
      const log = page.locator("#log tr");
      expect(await log.first().locator(".req-cache").textContent()).toMatch(/^(MISS|HIT|STALE)$/);
      expect(await log.first().locator(".req-timing").textContent()).toMatch(/total;dur=/);
      await expect.poll(() => page.locator("#filtered").textContent()).toContain("not listed");

      // Authors by handle and display name (never a UUID), counts and the following state,
      // each as the API has the post.
      for (const card of await items.all()) {
        const authorId = (await card.getAttribute("data-author-id")) as string;
        const i = users.indexOf(authorId);
        expect(i, "a followee's post").toBeGreaterThan(0);
        expect(await card.locator(".author-link").textContent()).toBe(names[i]);
        expect(await card.locator(".handle").textContent()).toBe(`@${handles[i]}`);
        expect(await card.locator(".meta").textContent()).not.toContain(authorId);
        expect(await card.locator(".following-tag").isVisible()).toBe(true);
        const api = await read<PostOut>(`/api/v1/posts/${await card.getAttribute("data-post-id")}`);
        expect(await n(card.locator(".likes"))).toBe(api.counts.likes);
        expect(await n(card.locator(".comments-count"))).toBe(api.counts.comments);
        expect(await n(card.locator(".shares"))).toBe(api.counts.shares);
        expect(await card.locator("button.like").getAttribute("aria-pressed")).toBe(String(api.viewer?.liked));
      }

      // Paging: the next page appends 5 more, none repeated; then the last 2.
      await page.click("#next");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(10);
      const ids = await items.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.postId));
      expect(new Set(ids).size).toBe(10);
      expect(await log.first().locator(".req-path").textContent()).toContain("cursor=");
      const hostileText = page.locator("#items .text", { hasText: "onerror" });
      await page.click("#next");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(12);
      // The hostile post is text on the page, never markup.
      expect(await hostileText.textContent()).toBe(hostile);
      expect(await page.locator("#items img").count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      // The thread post shows its three comments.
      expect(await n(page.locator(`#items > li[data-post-id="${threadPost}"] .comments-count`))).toBe(3);

      // ---- a like ---------------------------------------------------------------------------------
      // The count and the pressed state change at once; the API then shows the like, and new
      // sessions rank the post with it (its engagement bar grows). Then it is taken back.
      const first = items.first();
      const postId = (await first.getAttribute("data-post-id")) as string;
      const likeBtn = first.locator("button.like");
      const likesBefore = await n(first.locator(".likes"));
      expect(await likeBtn.getAttribute("aria-pressed")).toBe("false");
      expect(await likeBtn.evaluate((b) => b.tagName)).toBe("BUTTON");
      const before = Number(await first.locator(".seg-engagement").getAttribute("data-value"));
      // Bars are drawn against the page's highest base score, which the like may move: compare
      // the engagement part with the same bar's freshness part (which only decays).
      const share = (card: Locator) =>
        card.locator(".bar").evaluate((bar) => {
          const px = (cls: string) => (bar.querySelector(cls) as HTMLElement).getBoundingClientRect().width;
          return px(".seg-engagement") / px(".seg-freshness");
        });
      const beforeShare = await share(first);
      await likeBtn.click();
      await expect.poll(() => likeBtn.getAttribute("aria-pressed")).toBe("true");
      expect(await n(first.locator(".likes"))).toBe(likesBefore + 1);
      await expect.poll(() => status.textContent(), { timeout: 30_000 }).toMatch(/^Liked: engagement/);
      const liked = page.locator(`#items > li.item[data-post-id="${postId}"]`);
      const after = Number(await liked.locator(".seg-engagement").getAttribute("data-value"));
      const afterShare = await share(liked);
      expect(after).toBeGreaterThan(before);
      expect(afterShare).toBeGreaterThan(beforeShare);
      expect(await liked.locator(".val-engagement").textContent()).toBe(after.toFixed(3));
      expect(await liked.locator(".change").textContent()).toContain("after your like");
      const likedApi = await read<PostOut>(`/api/v1/posts/${postId}`);
      expect(likedApi.viewer?.liked).toBe(true);
      expect(likedApi.counts.likes).toBe(likesBefore + 1);
      expect(await n(liked.locator(".likes"))).toBe(likedApi.counts.likes);
      expect(await liked.locator("button.like").getAttribute("aria-pressed")).toBe("true");
      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });

      await liked.locator("button.like").click();
      await expect.poll(() => liked.locator("button.like").getAttribute("aria-pressed")).toBe("false");
      expect(await n(liked.locator(".likes"))).toBe(likesBefore);
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Like taken back: the API shows/);
      expect((await read<PostOut>(`/api/v1/posts/${postId}`)).counts.likes).toBe(likesBefore);

      // ---- the author view ------------------------------------------------------------------------
      await page.locator(`#items > li.item[data-author-id="${authors[0]}"]`).first().locator(".author-link").click();
      await expect.poll(() => page.locator("#author-name").textContent(), { timeout: 15_000 }).toBe(names[1]);
      expect(await page.locator("#view-feed").isHidden()).toBe(true);
      expect(new URL(page.url()).hash).toBe(`#/user/${authors[0]}`);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("author-name"); // focus moved to the view
      const profile = await read<ProfileOut>(`/api/v1/users/${authors[0]}`);
      expect(await page.locator("#author-handle").textContent()).toBe(`@${profile.handle}`);
      expect(await page.locator("#author-bio").textContent()).toBe(profile.bio);
      expect(await page.locator("#author-posts-count").textContent()).toBe(String(profile.counts.posts));
      expect(await page.locator("#author-followers").textContent()).toBe(String(profile.counts.followers));
      expect(await page.locator("#author-following").textContent()).toBe(String(profile.counts.following));
      expect(profile.viewer.following).toBe(true);
      expect(await page.locator("#author-relation").textContent()).toContain(`You follow ${names[1]}`);
      expect(await page.locator("#follow").textContent()).toBe("Unfollow");

      // Their posts, newest first, paged like the API's.
      const authorPosts = page.locator("#author-posts > li.post");
      await expect.poll(() => authorPosts.count()).toBe(5);
      const shownIds = () => authorPosts.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.postId));
      const apiFirst = await read<Page_<PostOut>>(`/api/v1/users/${authors[0]}/posts?limit=5`);
      expect(await shownIds()).toEqual(apiFirst.items.map((p) => p.post_id));
      expect(await page.locator("#author-more").isVisible()).toBe(true);
      await page.click("#author-more");
      await expect.poll(() => authorPosts.count()).toBe(6);
      const apiAll = await read<Page_<PostOut>>(`/api/v1/users/${authors[0]}/posts?limit=100`);
      expect(await shownIds()).toEqual(apiAll.items.map((p) => p.post_id));
      expect(await shownIds()).toEqual([...postsOf[0]].reverse());
      expect(await page.locator("#author-more").isHidden()).toBe(true);
      expect(await page.locator("#author-posts-end").textContent()).toBe("That is all of their posts.");
      expect(await page.locator("#author-posts .text", { hasText: "onerror" }).textContent()).toBe(hostile);

      // Their followers: the viewer.
      await page.click("#show-followers");
      const people = page.locator("#people > li.person");
      await expect.poll(() => people.count()).toBe(1);
      const followers = await read<Page_<ListedUser>>(`/api/v1/users/${authors[0]}/followers`);
      expect(followers.items.map((u) => u.id)).toEqual([viewer]);
      expect(await people.first().getAttribute("data-user-id")).toBe(viewer);
      expect(await people.first().locator(".author-link").textContent()).toBe(names[0]);
      expect(await page.locator("#show-followers").getAttribute("aria-expanded")).toBe("true");

      // Unfollow and follow again: the button and the count at once, the API after.
      await page.click("#follow");
      await expect.poll(() => page.locator("#follow").textContent()).toBe("Follow");
      expect(await page.locator("#author-followers").textContent()).toBe(String(profile.counts.followers - 1));
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Unfollowed .*: the API shows/);
      expect((await read<ProfileOut>(`/api/v1/users/${authors[0]}`)).viewer.following).toBe(false);
      await page.click("#follow");
      await expect.poll(() => page.locator("#follow").textContent()).toBe("Unfollow");
      await expect
        .poll(() => status.textContent(), { timeout: 15_000 })
        .toMatch(/^Following .*: the API shows 1 follower$/);
      const refollowed = await read<ProfileOut>(`/api/v1/users/${authors[0]}`);
      expect(refollowed.viewer.following).toBe(true);
      expect(await page.locator("#author-followers").textContent()).toBe(String(refollowed.counts.followers));
      await viewScreenshot(page, AUTHOR_SCREENSHOT);

      // ---- the thread view ------------------------------------------------------------------------
      // Back to the feed (as it was left), and from its card of author 1's first post.
      await page.click("#to-feed");
      await expect.poll(() => page.locator("#view-feed").isVisible()).toBe(true);
      expect(await items.count()).toBe(12); // the feed as it was left
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("feed-title");
      await page.fill("#limit", "2"); // comments two at a time
      await page.locator(`#items > li.item[data-post-id="${threadPost}"] .open-thread`).click();
      const threadCard = page.locator("#thread-post article.post");
      await expect.poll(() => threadCard.count(), { timeout: 15_000 }).toBe(1);
      expect(new URL(page.url()).hash).toBe(`#/post/${threadPost}`);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("thread-title");
      const postApi = await read<PostOut>(`/api/v1/posts/${threadPost}`);
      expect(await threadCard.locator(".text").textContent()).toBe(postApi.text);
      expect(await threadCard.locator(".author-link").textContent()).toBe(postApi.author.display_name);
      expect(await threadCard.locator(".handle").textContent()).toBe(`@${postApi.author.handle}`);
      expect(await n(threadCard.locator(".comments-count"))).toBe(3);
      expect(await n(threadCard.locator(".likes"))).toBe(postApi.counts.likes);

      // Comments oldest first, two a page.
      const comments = page.locator("#comments > li.comment");
      await expect.poll(() => comments.count()).toBe(2);
      await page.click("#comments-more");
      await expect.poll(() => comments.count()).toBe(3);
      expect(await page.locator("#comments-more").isHidden()).toBe(true);
      const apiComments = await read<Page_<CommentOut>>(`/api/v1/posts/${threadPost}/comments?order=oldest&limit=100`);
      expect(await comments.locator(".text").allTextContents()).toEqual(apiComments.items.map((c) => c.text));
      expect(await comments.locator(".text").allTextContents()).toEqual(commentTexts);
      expect(await comments.locator(".author-link").allTextContents()).toEqual(
        commenters.map((u) => names[users.indexOf(u)]),
      );

      // Like the thread's post (from the thread), then add a comment: it shows at once, last.
      await threadCard.locator("button.like").click();
      await expect.poll(() => threadCard.locator("button.like").getAttribute("aria-pressed")).toBe("true");
      expect(await n(threadCard.locator(".likes"))).toBe(postApi.counts.likes + 1);
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Liked: the API shows/);
      const mine = `added from the explorer at ${Date.now()} <b>not bold</b>`;
      await page.fill("#comment-text", mine);
      await page.click("#comment-send");
      await expect.poll(() => comments.count(), { timeout: 15_000 }).toBe(4);
      expect(await comments.last().locator(".text").textContent()).toBe(mine);
      expect(await comments.last().locator(".author-link").textContent()).toBe(names[0]);
      expect(await page.locator("#comment-text").inputValue()).toBe("");
      expect(await n(threadCard.locator(".comments-count"))).toBe(4);
      await expect.poll(() => status.textContent(), { timeout: 15_000 }).toMatch(/^Comment added: the API lists it/);
      const withMine = await read<Page_<CommentOut>>(`/api/v1/posts/${threadPost}/comments?limit=100`);
      expect(withMine.items.map((c) => c.text)).toEqual([...commentTexts, mine]);
      expect(withMine.items[3]?.author.id).toBe(viewer);
      expect(await page.locator("#comments b").count()).toBe(0);

      // To the feed and back (the browser's back): the thread as the API reads it now, the new
      // comment (no longer the page's own copy) on the last page.
      await page.click("#to-feed");
      await expect.poll(() => page.locator("#view-feed").isVisible()).toBe(true);
      expect(
        await page.locator(`#items > li[data-post-id="${threadPost}"] button.like`).getAttribute("aria-pressed"),
      ).toBe("true");
      await page.goBack();
      await expect.poll(() => comments.count(), { timeout: 15_000 }).toBe(2);
      await page.click("#comments-more");
      await expect.poll(() => comments.count()).toBe(4);
      expect(await comments.last().locator(".text").textContent()).toBe(mine);
      expect(await page.locator("#comments > li.comment-local").count()).toBe(0);
      expect(await page.locator("#comments-title").textContent()).toBe("Comments (4)");
      await viewScreenshot(page, THREAD_SCREENSHOT);

      // An author by handle (#/user/@handle), as one would type it.
      await page.evaluate((handle) => {
        location.hash = `#/user/@${handle}`;
      }, handles[2] as string);
      await expect.poll(() => page.locator("#author-name").textContent(), { timeout: 15_000 }).toBe(names[2]);
      expect(await page.locator("#author-handle").textContent()).toBe(`@${handles[2]}`);
      await expect.poll(() => page.locator("#author-posts > li.post").count()).toBe(2); // limit 2

      // The views are sections with headings; every action is a button, every move a link.
      const headings = await page
        .locator("main > section.view")
        .evaluateAll((views) => views.map((v) => v.querySelector("h2")?.id));
      expect(headings).toEqual(["feed-title", "author-name", "thread-title"]);
      expect(await page.locator(".like:not(button), #follow:not(button), #comment-send:not(button)").count()).toBe(0);
      await page.click("#to-feed");
      await expect.poll(() => page.locator("#view-feed").isVisible()).toBe(true);
      console.log(
        `explorer: engagement ${before} → ${after}; screenshots ${SCREENSHOT}, ${AUTHOR_SCREENSHOT}, ${THREAD_SCREENSHOT}; ${Date.now() - t0} ms`,
      );
      expect(problems).toEqual([]);
    },
    180_000,
  );

  it.skipIf(!chromiumPath)(
    "in chromium: /docs renders the API reference offline from the worker's own assets (operation list, the feed operation's summary and parameters)",
    async () => {
      browser ??= await chromium.launch({
        executablePath: chromiumPath as string,
        headless: true,
        args: CHROMIUM_ARGS,
      });
      const context = await browser.newContext({ viewport: { width: 1200, height: 1600 } });
      const page = await context.newPage();
      const problems: string[] = [];
      const origins = new Set<string>();
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()}`));
      page.on("response", (r) => {
        if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
      });
      page.on("request", (r) => {
        if (!r.url().startsWith("data:")) origins.add(new URL(r.url()).origin);
      });
      try {
        await page.goto(`${w.edge.url}/docs`);
        const feedOp = page.locator("#operations-feed-getFeed");
        await expect.poll(() => feedOp.count(), { timeout: 20_000 }).toBe(1);
        expect(await feedOp.locator(".opblock-summary-description").textContent()).toBe(
          "The caller's ranked feed, one page at a time",
        );
        // Every operation of the document is listed.
        expect(await page.locator(".opblock").count()).toBe(documentedOperations());
        await feedOp.locator(".opblock-summary-control").click();
        await expect.poll(() => feedOp.locator(".parameters tr[data-param-name]").count()).toBe(3);
        expect(await feedOp.locator(".responses-table").first().textContent()).toContain("X-Cache");
        mkdirSync(RESULTS, { recursive: true });
        await page.screenshot({ path: DOCS_SCREENSHOT, fullPage: false });
        console.log(`docs screenshot: ${DOCS_SCREENSHOT}`);
        expect([...origins]).toEqual([w.edge.url]); // nothing from a CDN
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    },
    120_000,
  );
});

/** A view's screenshot for the docs: the viewport (1200×900) scrolled to the explorer's nav. */
async function viewScreenshot(page: Page, path: string): Promise<void> {
  mkdirSync(IMAGES, { recursive: true });
  await page.evaluate(() => {
    const nav = document.getElementById("nav");
    window.scrollTo(0, nav ? nav.getBoundingClientRect().top + window.scrollY - 8 : 0);
  });
  await page.screenshot({ path, fullPage: false });
}

/** How many operations the committed OpenAPI document lists (the page shows one block each). */
function documentedOperations(): number {
  const doc = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../edge/openapi.json"), "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const methods = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);
  return Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).filter((m) => methods.has(m)).length, 0);
}
