import { describe, expect, it } from "vitest";
import { readGatewayConfig } from "./config.ts";

describe("readGatewayConfig", () => {
  it("has the documented defaults", () => {
    expect(readGatewayConfig({}, "/srv/app")).toEqual({
      host: "127.0.0.1",
      port: 8123,
      dataDir: "/srv/app/.stack/data/chdb",
      user: "default",
      password: "",
      hostAccess: false,
      sessions: 4,
      queueSize: 64,
      timeoutMs: 30_000,
      maxBodyBytes: 256 * 1024 * 1024,
      shutdownTimeoutMs: 10_000,
      logLevel: "info",
    });
  });

  it("reads every variable", () => {
    const c = readGatewayConfig(
      {
        CH_GATEWAY_HOST: "0.0.0.0",
        CH_GATEWAY_PORT: "0",
        CH_GATEWAY_DATA_DIR: "/data/ch",
        CH_GATEWAY_USER: "app",
        CH_GATEWAY_PASSWORD: "s3cret",
        CH_GATEWAY_SESSIONS: "2",
        CH_GATEWAY_QUEUE_SIZE: "0",
        CH_GATEWAY_TIMEOUT_MS: "500",
        CH_GATEWAY_MAX_BODY_BYTES: "1024",
        LOG_LEVEL: "silent",
      },
      "/x",
    );
    expect(c).toMatchObject({
      host: "0.0.0.0",
      port: 0,
      dataDir: "/data/ch",
      user: "app",
      password: "s3cret",
      sessions: 2,
      queueSize: 0,
      timeoutMs: 500,
      maxBodyBytes: 1024,
      logLevel: "silent",
    });
  });

  it("names every bad variable at once", () => {
    let message = "";
    try {
      readGatewayConfig({ CH_GATEWAY_PORT: "http", CH_GATEWAY_SESSIONS: "0", LOG_LEVEL: "loud" });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ["CH_GATEWAY_PORT", "CH_GATEWAY_SESSIONS", "LOG_LEVEL"]) expect(message).toContain(name);
  });

  it("refuses an empty password off loopback, allows it on loopback", () => {
    expect(() => readGatewayConfig({ CH_GATEWAY_HOST: "0.0.0.0" })).toThrow(/CH_GATEWAY_PASSWORD: must be set/);
    expect(readGatewayConfig({ CH_GATEWAY_HOST: "::1" }).password).toBe("");
    expect(readGatewayConfig({ CH_GATEWAY_HOST: "0.0.0.0", CH_GATEWAY_PASSWORD: "x" }).host).toBe("0.0.0.0");
    for (const host of ["::", "[::]", "10.0.0.5", "192.168.1.2", "example.com", "127.0.0.1.nip.io"]) {
      expect(() => readGatewayConfig({ CH_GATEWAY_HOST: host })).toThrow(/CH_GATEWAY_PASSWORD: must be set/);
    }
  });

  it("keeps host access (file, url, s3, remote… table functions) off unless CH_GATEWAY_HOST_ACCESS=1", () => {
    expect(readGatewayConfig({}).hostAccess).toBe(false);
    expect(readGatewayConfig({ CH_GATEWAY_HOST_ACCESS: "1" }).hostAccess).toBe(true);
    expect(() => readGatewayConfig({ CH_GATEWAY_HOST_ACCESS: "yes" })).toThrow(/CH_GATEWAY_HOST_ACCESS/);
  });
});
