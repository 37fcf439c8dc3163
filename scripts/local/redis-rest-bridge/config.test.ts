import { describe, expect, it } from "vitest";
import { isLoopbackHost, readBridgeConfig } from "./config.ts";

describe("readBridgeConfig", () => {
  it("has working defaults for a local run", () => {
    const c = readBridgeConfig({});
    expect(c).toMatchObject({
      redisUrl: "redis://127.0.0.1:6379",
      host: "127.0.0.1",
      port: 8079,
      token: "local-dev-token",
      maxBodyBytes: 10 * 1024 * 1024,
      poolSize: 8,
      commandTimeoutMs: 10_000,
      logLevel: "info",
    });
    expect([...c.allowCommands]).toEqual([]);
  });

  it("parses every variable", () => {
    const c = readBridgeConfig({
      REDIS_URL: "rediss://user:pw@redis.internal:6380/2",
      REDIS_BRIDGE_HOST: "0.0.0.0",
      REDIS_BRIDGE_PORT: "0",
      REDIS_BRIDGE_TOKEN: "s3cret",
      REDIS_BRIDGE_MAX_BODY_BYTES: "1024",
      REDIS_BRIDGE_POOL_SIZE: "2",
      REDIS_BRIDGE_ALLOW_COMMANDS: " flushdb, CONFIG|GET ",
      REDIS_BRIDGE_COMMAND_TIMEOUT_MS: "500",
      LOG_LEVEL: "warn",
    });
    expect(c.port).toBe(0);
    expect(c.maxBodyBytes).toBe(1024);
    expect([...c.allowCommands]).toEqual(["FLUSHDB", "CONFIG|GET"]);
    expect(c.commandTimeoutMs).toBe(500);
  });

  it("names every bad variable in one error", () => {
    let message = "";
    try {
      readBridgeConfig({
        REDIS_URL: "http://nope",
        REDIS_BRIDGE_PORT: "99999",
        REDIS_BRIDGE_POOL_SIZE: "zero",
        REDIS_BRIDGE_ALLOW_COMMANDS: "GET,SUBSCRIBE",
        LOG_LEVEL: "loud",
      });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of [
      "REDIS_URL",
      "REDIS_BRIDGE_PORT",
      "REDIS_BRIDGE_POOL_SIZE",
      "REDIS_BRIDGE_ALLOW_COMMANDS",
      "LOG_LEVEL",
    ]) {
      expect(message).toContain(name);
    }
    expect(message).toContain("GET is not a command the bridge denies by default");
    expect(message).toContain("SUBSCRIBE is not a command");
  });

  it("refuses the default token off loopback", () => {
    expect(() => readBridgeConfig({ REDIS_BRIDGE_HOST: "0.0.0.0" })).toThrow(/REDIS_BRIDGE_TOKEN: must be set/);
    expect(() => readBridgeConfig({ REDIS_BRIDGE_HOST: "0.0.0.0", REDIS_BRIDGE_TOKEN: "x" })).not.toThrow();
    expect(() => readBridgeConfig({ REDIS_BRIDGE_HOST: "::1" })).not.toThrow();
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ["0.0.0.0", "10.0.0.1", "::", "example.com"]) expect(isLoopbackHost(h), h).toBe(false);
  });
});
