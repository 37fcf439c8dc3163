/**
 * The feed explorer (/explore) in a real browser: Debian's chromium driven by playwright-core,
 * against the real worker (wrangler dev) on the serving index, with users and posts written
 * through the real stack. It loads a seeded user's feed with a pasted token, pages, likes a
 * post and sees its engagement bar change, and saves a screenshot. Chromium is installed with
 * apt when missing (scripts/lib/chromium.ts); where it cannot be had the browser test skips
 * with a loud message. Also: the page's CSP, and the 404 when EXPLORER_ENABLED is off.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FeedItemOut } from "../../edge/core/index.ts";
import { CHROMIUM_ARGS, ensureChromium } from "../../scripts/lib/chromium.ts";
import { devToken } from "../../scripts/token.ts";
import { type CdcHarness, startCdcHarness, waitFor } from "./support/cdc.ts";
import { type EdgeWorld, startEdgeWorld } from "./support/edge-world.ts";
import { startWranglerDev } from "./support/wrangler.ts";

const RESULTS = resolve(import.meta.dirname, "../../.stack/test-results");
const SCREENSHOT = resolve(RESULTS, "explorer.png");
const DOCS_SCREENSHOT = resolve(RESULTS, "docs.png");

const browserOutcome = ensureChromium();
if ("skip" in browserOutcome) {
  console.warn(
    `\n${"!".repeat(78)}\n!! SKIPPING the explorer's browser test: ${browserOutcome.skip}\n${"!".repeat(78)}\n`,
  );
}
const chromiumPath = "path" in browserOutcome ? browserOutcome.path : null;

describe("feed explorer (/explore)", () => {
  let h: CdcHarness;
  let w: EdgeWorld;
  let browser: Browser | null = null;
  const viewer = randomUUID();
  const authors = [randomUUID(), randomUUID()];
  const hostile = `<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>`;

  beforeAll(async () => {
    h = await startCdcHarness();
    w = await startEdgeWorld(h, { index: true, vars: { EXPLORER_ENABLED: "1" } });
    const users = [viewer, ...authors];
    for (const [i, u] of users.entries())
      await w.ok(w.api(u, "PUT", "/api/v1/users/me", { handle: `ex${h.id}_${i}` }), 200);
    for (const a of authors) await w.ok(w.api(viewer, "PUT", `/api/v1/follows/${a}`), 204);
    for (const [i, a] of authors.entries())
      for (let k = 0; k < 6; k++)
        await w.ok(
          w.api(a, "POST", "/api/v1/posts", { text: k === 0 && i === 0 ? hostile : `post ${k} by author ${i}` }),
          201,
        );
    await waitFor(async () => (await w.redis.exists(w.keys.ready)) === 1, 30_000, "the index to be ready");
    await waitFor(
      async () => {
        const r = await w.api(viewer, "GET", "/api/v1/feed?limit=100");
        return r.ok && ((await r.json()) as { items: FeedItemOut[] }).items.length === 12;
      },
      30_000,
      "the viewer's 12 followee posts",
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
    "in chromium: loads a seeded user's feed with badges and bars, pages, likes a post and sees its engagement bar change",
    async () => {
      const t0 = Date.now();
      browser = await chromium.launch({ executablePath: chromiumPath as string, headless: true, args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
      page.on("requestfailed", (r) => problems.push(`requestfailed: ${r.url()}`));

      await page.goto(`${w.edge.url}/explore`);
      await expect.poll(() => page.locator("#formula").textContent()).toContain("0.40 × engagement");
      await page.fill("#token", await devToken(viewer, 3600, w.jwtSecret));
      await expect.poll(() => page.locator("#who").textContent()).toContain(viewer);
      await page.fill("#limit", "5");
      await page.click("#load");

      const items = page.locator("#items > li.item");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(5);
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

      // Paging: the next page appends 5 more, none repeated.
      await page.click("#next");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(10);
      const ids = await items.evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.postId));
      expect(new Set(ids).size).toBe(10);
      expect(await log.first().locator(".req-path").textContent()).toContain("cursor=");

      // The hostile post is text on the page, never markup.
      const hostileText = page.locator("#items .text", { hasText: "onerror" });
      await page.click("#next");
      await expect.poll(() => items.count(), { timeout: 15_000 }).toBe(12);
      expect(await hostileText.textContent()).toBe(hostile);
      expect(await page.locator("#items img").count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();

      // Like the first post: the page PUTs the like, then starts new sessions until the
      // engagement bar shows it.
      const first = items.first();
      const postId = (await first.getAttribute("data-post-id")) as string;
      const before = Number(await first.locator(".seg-engagement").getAttribute("data-value"));
      const beforeWidth = await first.locator(".seg-engagement").evaluate((e) => e.getBoundingClientRect().width);
      await first.locator("button.like").click();
      const liked = page.locator(`#items > li.item[data-post-id="${postId}"]`);
      await expect.poll(() => page.locator("#status").textContent(), { timeout: 30_000 }).toMatch(/^Liked: engagement/);
      const after = Number(await liked.locator(".seg-engagement").getAttribute("data-value"));
      const afterWidth = await liked.locator(".seg-engagement").evaluate((e) => e.getBoundingClientRect().width);
      expect(after).toBeGreaterThan(before);
      expect(afterWidth).toBeGreaterThan(beforeWidth);
      expect(await liked.locator(".val-engagement").textContent()).toBe(after.toFixed(3));
      expect(await liked.locator(".change").textContent()).toContain("after your like");
      expect(await liked.locator("button.like").textContent()).toBe("Liked");

      mkdirSync(RESULTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      console.log(`explorer screenshot: ${SCREENSHOT}; engagement ${before} → ${after}; ${Date.now() - t0} ms`);
      expect(problems).toEqual([]);
    },
    120_000,
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

/** How many operations the committed OpenAPI document lists (the page shows one block each). */
function documentedOperations(): number {
  const doc = JSON.parse(readFileSync(resolve(import.meta.dirname, "../../edge/openapi.json"), "utf8")) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const methods = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);
  return Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).filter((m) => methods.has(m)).length, 0);
}
