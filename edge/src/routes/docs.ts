/**
 * GET /openapi.json (the document, built once per isolate from the app's registry) and GET /docs
 * (its reference page, Swagger UI served from the worker: edge/src/docs/). Public, counted
 * against the anonymous per-IP limit like trending.
 */
import type { Context } from "hono";
import { operations } from "../api/contract.ts";
import type { OpenApiDocument } from "../api/document.ts";
import { DOCS_ASSETS, DOCS_CSP, DOCS_HTML, DOCS_INIT_JS } from "../docs/page.ts";
import type { AppEnv } from "../env.ts";
import { routeLimit } from "../ratelimit.ts";
import { apiRouter } from "../validation.ts";

const send = (c: Context<AppEnv>, body: string, type: string, maxAgeS: number) => {
  c.header("Content-Type", `${type}; charset=utf-8`);
  c.header("Content-Security-Policy", DOCS_CSP);
  c.header("Cache-Control", `public, max-age=${maxAgeS}`);
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
  c.header("Cross-Origin-Opener-Policy", "same-origin");
  return c.body(body);
};

/** `document` is called on the first request for it; its result is kept. */
export function docsRoutes(document: () => OpenApiDocument) {
  let doc: OpenApiDocument | null = null;
  const anon = routeLimit("anon");
  return apiRouter()
    .openapi({ ...operations.getOpenApiDocument, middleware: [anon] as const }, (c) => {
      doc ??= document();
      c.header("Cache-Control", "public, max-age=300");
      return c.json(doc, 200);
    })
    .openapi({ ...operations.getApiReference, middleware: [anon] as const }, (c) =>
      send(c, DOCS_HTML, "text/html", 300),
    )
    .get(DOCS_ASSETS.init, anon, (c) => send(c, DOCS_INIT_JS, "text/javascript", 300))
    .get(DOCS_ASSETS.js, anon, async (c) =>
      send(c, (await import("../docs/assets.ts")).SWAGGER_UI_JS, "text/javascript", 86_400),
    )
    .get(DOCS_ASSETS.css, anon, async (c) =>
      send(c, (await import("../docs/assets.ts")).SWAGGER_UI_CSS, "text/css", 86_400),
    );
}
