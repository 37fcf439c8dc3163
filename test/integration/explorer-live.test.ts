/**
 * The explorer's live panel in a real browser, two users at once: Debian's chromium (two
 * browser contexts, so two separate pages with their own tokens) against the real worker
 * (`wrangler dev`) with its LiveChannel Durable Objects, the origin's write API, the serving
 * index and the notifications part on CDC, and the origin's live publisher. A follows B. With
 * both pages open, B posts (through the API: the explorer has no compose box), then from B's
 * own explorer page likes A's post (the thread view) and follows A (the author view). A's page,
 * never reloaded, shows "1 new post" on its pill and its unread count going from none yet (–)
 * to 1, then 2 (a like and a follow are one notification group each, as GET
 * /api/v1/notifications counts them);
 * pressing the pill starts a new session that shows B's post and hides the pill. Every wait is
 * bounded and every assertion is on what the page shows.
 */
import { randomUUID } from "node:crypto";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedItemOut } from "#core/feed/present.ts";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.ts";
import { waitFor } from "../../scripts/lib/wait.ts";
import { type CdcHarness, startCdcHarness } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";

const browserOutcome = ensureChromium();
if ("skip" in browserOutcome) {
  console.warn(
    `\n${"!".repeat(78)}\n!! SKIPPING the explorer's live browser test: ${browserOutcome.skip}\n${"!".repeat(78)}\n`,
  );
}
const chromiumPath = "path" in browserOutcome ? browserOutcome.path : null;

/** How long the page may take to show a change (a post, or a like/follow through CDC). */
const SHOWN_MS = 10_000;

describe.skipIf(!chromiumPath)("feed explorer's live panel, two users in chromium", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let browser: Browser | null = null;
  const contexts: BrowserContext[] = [];
  const a = randomUUID();
  const b = randomUUID();
  const names = { [a]: "Ann Reader", [b]: "Ben Writer" } as Record<string, string>;
  let aPost = "";

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, notifications: true, live: true, vars: { EXPLORER_ENABLED: "1" } });
    for (const [i, u] of [a, b].entries()) {
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `xl${h.id}_${i}`, display_name: names[u] }), 200);
    }
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 60_000, "the index to be ready");
    await w.ok(w.api(a, "PUT", `/api/v1/follows/${b}`), 204);
    const r = await w.ok(w.api(a, "POST", "/api/v1/posts", { text: "A's post, for B to like" }), 201);
    aPost = ((await r.json()) as { post: { id: string } }).post.id;
    await waitFor(
      async () => (await w.redis.zscore(w.keys.followers(b), a)) !== null,
      30_000,
      "A's follow of B in the index",
    );
    // A's follow reaches B's notifications (through CDC) before B's page connects, so nothing
    // B's page shows later comes from before it.
    await waitFor(
      async () => ((await (await w.api(b, "GET", "/api/v1/notifications")).json()) as { unread: number }).unread === 1,
      30_000,
      "A's follow in B's notifications",
    );
    await waitFor(
      async () => (await w.api(b, "GET", `/api/v1/posts/${aPost}`)).status === 200,
      30_000,
      "A's post readable by B",
    );
    browser = await chromium.launch({ executablePath: chromiumPath as string, headless: true, args: CHROMIUM_ARGS });
  }, 300_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await w?.stop();
    await h?.teardown();
  }, 60_000);

  /** A page of its own (a new browser context) on the explorer as `user`, its live panel connected. */
  async function openAs(user: string, problems: string[]): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 1200, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    const who = names[user];
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`${who} console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`${who} pageerror: ${e.message}`));
    await page.goto(`${w.edge.url}/explore`);
    await page.fill("#token", await w.token(user));
    await page.click("#load");
    await expect.poll(() => page.locator("#who").textContent(), { timeout: SHOWN_MS }).toContain(who);
    await expect.poll(() => page.locator("#live-state").textContent(), { timeout: SHOWN_MS }).toBe("Live: connected");
    return page;
  }

  it("A's page shows B's new post on the pill and B's like and follow in the unread count, without reloading", async () => {
    const problems: string[] = [];
    const pageA = await openAs(a, problems);
    const pageB = await openAs(b, problems);
    const pill = pageA.locator("#new-posts");
    const unread = pageA.locator("#unread");
    const items = pageA.locator("#items > li.item");
    // A's feed is empty (B has not posted), no pill, no unread count yet.
    await expect
      .poll(() => pageA.locator("#count").textContent(), { timeout: SHOWN_MS })
      .toBe("0 items shown; end of this session");
    expect(await items.count()).toBe(0);
    expect(await pill.isHidden()).toBe(true);
    expect(await unread.textContent()).toBe("–");
    // The page is never reloaded: a marker set now must still be there at the end.
    await pageA.evaluate(() => {
      (window as unknown as { __notReloaded?: boolean }).__notReloaded = true;
    });

    // ---- B posts: A's pill ------------------------------------------------------------------------
    const t0 = Date.now();
    const res = await w.ok(w.api(b, "POST", "/api/v1/posts", { text: "B's live post" }), 201);
    const bPost = ((await res.json()) as { post: { id: string } }).post.id;
    await expect.poll(() => pill.isVisible(), { timeout: SHOWN_MS }).toBe(true);
    expect(await pill.textContent()).toBe("1 new post");
    console.log(`pill after ${Date.now() - t0} ms`);
    expect(await items.count()).toBe(0); // the pill says so; the feed is not reloaded by itself

    // ---- B likes A's post, from B's page (the thread view) ------------------------------------------
    const t1 = Date.now();
    await pageB.evaluate((id) => {
      location.hash = `#/post/${id}`;
    }, aPost);
    const threadLike = pageB.locator("#thread-post article.post button.like");
    await expect.poll(() => threadLike.count(), { timeout: SHOWN_MS }).toBe(1);
    await threadLike.click();
    await expect.poll(() => threadLike.getAttribute("aria-pressed")).toBe("true");
    await expect.poll(() => unread.textContent(), { timeout: SHOWN_MS }).toBe("1");
    console.log(`unread 1 after ${Date.now() - t1} ms`);

    // ---- B follows A, from B's page (the author view) ------------------------------------------------
    const t2 = Date.now();
    await pageB.evaluate((id) => {
      location.hash = `#/user/${id}`;
    }, a);
    await expect.poll(() => pageB.locator("#author-name").textContent(), { timeout: SHOWN_MS }).toBe(names[a]);
    await expect.poll(() => pageB.locator("#follow").textContent(), { timeout: SHOWN_MS }).toBe("Follow");
    await pageB.click("#follow");
    await expect.poll(() => pageB.locator("#follow").textContent()).toBe("Unfollow");
    await expect.poll(() => unread.textContent(), { timeout: SHOWN_MS }).toBe("2");
    console.log(`unread 2 after ${Date.now() - t2} ms`);
    // What the page shows is what the API counts.
    const api = (await (await w.ok(w.api(a, "GET", "/api/v1/notifications"), 200)).json()) as { unread: number };
    expect(api.unread).toBe(2);

    // ---- A presses the pill: a new session with B's post, the pill gone ---------------------------------
    await pill.click();
    await expect.poll(() => items.count(), { timeout: SHOWN_MS }).toBe(1);
    expect(await pageA.locator("#count").textContent()).toBe("1 items shown; end of this session");
    expect(await items.first().getAttribute("data-post-id")).toBe(bPost);
    expect(await items.first().locator(".author-link").textContent()).toBe(names[b]);
    expect(await pill.isHidden()).toBe(true);
    // The channel was told (new_posts_seen): the count it holds is 0 now, so it stays hidden.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await pill.isHidden()).toBe(true);
    expect(await unread.textContent()).toBe("2");
    expect(await pageA.evaluate(() => (window as unknown as { __notReloaded?: boolean }).__notReloaded)).toBe(true);
    // B's page heard nothing for A: its own count is still unset.
    expect(await pageB.locator("#unread").textContent()).toBe("–");
    expect(await pageB.locator("#new-posts").isHidden()).toBe(true);
    expect(problems).toEqual([]);
    // The feed as the API has it agrees.
    const feed = (await (await w.ok(w.api(a, "GET", "/api/v1/feed"), 200)).json()) as { items: FeedItemOut[] };
    expect(feed.items.map((i) => i.post_id)).toContain(bPost);
  }, 120_000);
});
