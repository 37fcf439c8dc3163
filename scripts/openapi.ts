/**
 * `npm run openapi`: writes edge/openapi.json, the public API's OpenAPI 3.1 document, generated
 * from the worker's app (its OpenAPI routes and the zod schemas they validate with). The unit
 * test test/unit/openapi.test.ts fails while the committed file differs from what this writes.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { openApiDocument } from "../edge/src/api/document.ts";
import { createApp } from "../edge/src/app.ts";

export const OPENAPI_PATH = resolve(import.meta.dirname, "../edge/openapi.json");

/** The document as the committed file holds it. */
export function openApiText(): string {
  return `${JSON.stringify(openApiDocument(createApp()), null, 2)}\n`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(OPENAPI_PATH, openApiText());
  // In the repository's JSON style, so `biome check` passes (the test compares the parsed JSON).
  execFileSync(resolve(import.meta.dirname, "../node_modules/.bin/biome"), ["format", "--write", OPENAPI_PATH], {
    stdio: "ignore",
  });
  console.log(`wrote ${OPENAPI_PATH}`);
}
