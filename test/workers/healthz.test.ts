import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

describe("edge worker inside workerd", () => {
  it("answers GET /healthz with 200 and names itself", async () => {
    const res = await exports.default.fetch("http://edge.test/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", component: "edge" });
  });

  it("answers an unknown route with 404 in the error envelope", async () => {
    const res = await exports.default.fetch("http://edge.test/nope");
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("not_found");
    expect(body.error.message).toContain("/nope");
  });
});
