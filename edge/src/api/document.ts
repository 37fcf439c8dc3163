/** The OpenAPI 3.1 document of the public API, from the app's registry (edge/openapi.json, GET /openapi.json). */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { CONTRACT_VERSION } from "#core/health.ts";
import type { AppEnv } from "../env.ts";
import { BEARER, DOCUMENT_INFO, errorResponseComponents, requestBodies } from "./contract.ts";
import { ErrorEnvelope } from "./schemas.ts";

/** An OpenAPI document as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

/** Adds what the operations reference but do not carry: the body components and the bearer scheme. Once per app. */
export function registerComponents(app: OpenAPIHono<AppEnv>): void {
  // A clone: zod copies `.openapi()` (zod-openapi's prototype patch) onto schemas made after the
  // patch only, and edge/core's schemas may have been made before @hono/zod-openapi was loaded.
  for (const [name, schema] of Object.entries(requestBodies)) app.openAPIRegistry.register(name, schema.clone());
  app.openAPIRegistry.register("Error", ErrorEnvelope);
  for (const [name, response] of Object.entries(errorResponseComponents))
    app.openAPIRegistry.registerComponent("responses", name, response);
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "HS256 with the shared secret, or RS256/ES256 against the configured JWKS; `sub` is the user's UUID.",
  });
}

/** Builds the document from everything registered on `app` (its routes and components). */
export function openApiDocument(app: OpenAPIHono<AppEnv>): OpenApiDocument {
  return app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title: DOCUMENT_INFO.title, version: CONTRACT_VERSION, description: DOCUMENT_INFO.description },
    tags: [
      { name: "feed", description: "Ranked feed and trending posts" },
      { name: "discover", description: "Suggestions" },
      { name: "events", description: "User-behaviour events" },
      { name: "writes", description: "Writes, forwarded to the origin" },
      { name: "meta", description: "Health, this document and its reference page" },
    ],
  }) as unknown as OpenApiDocument;
}
