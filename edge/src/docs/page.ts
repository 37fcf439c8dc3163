/**
 * GET /docs: the API reference, Swagger UI over /openapi.json, with every asset served by the
 * worker itself (nothing from a CDN). The page has no inline script: its start-up lives in
 * /docs/init.js, so the CSP can say `script-src 'self'`. Swagger UI sets inline styles and uses
 * data: images, and needs neither eval nor any other origin.
 */

/** The page's Content-Security-Policy. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // Swagger UI (React) writes style attributes and a few <style> blocks at run time.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  // The document, and "Try it out" against this same worker.
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** Where the page finds its assets (all under /docs). */
export const DOCS_ASSETS = {
  js: "/docs/swagger-ui-bundle.js",
  css: "/docs/swagger-ui.css",
  init: "/docs/init.js",
} as const;

export const DOCS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-feed API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${DOCS_ASSETS.css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="/openapi.json"></div>
<script src="${DOCS_ASSETS.js}"></script>
<script src="${DOCS_ASSETS.init}"></script>
</body>
</html>
`;

/** Starts Swagger UI on the page's document (no inline script, see DOCS_CSP). */
export const DOCS_INIT_JS = `"use strict";
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayOperationId: true,
    defaultModelsExpandDepth: 0,
    validatorUrl: "none",
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
`;
