import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import committed from "../../edge/openapi.json";

describe("GET /openapi.json and GET /docs inside workerd", () => {
  it("serves the committed OpenAPI document, publicly", async () => {
    const res = await exports.default.fetch("http://edge.test/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(await res.json()).toEqual(committed);
  });

  it("serves the reference page under a CSP with no inline or remote script", async () => {
    const res = await exports.default.fetch("http://edge.test/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval|https?:)/);
    const html = await res.text();
    expect(html).not.toMatch(/<script>|https?:\/\//); // every script is a same-origin file
    expect(html).toContain('src="/docs/swagger-ui-bundle.js"');
    const init = await exports.default.fetch("http://edge.test/docs/init.js");
    expect(init.status).toBe(200);
    expect(await init.text()).toContain("SwaggerUIBundle(");
  });

  it("answers a method the document does not list with 405 naming the allowed ones", async () => {
    const res = await exports.default.fetch("http://edge.test/openapi.json", { method: "POST" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });
});
