import { describe, expect, it } from "vitest";
import { capBlockingTimeout, classifyCommand, isAllowableEntry } from "./commands.ts";

const none = new Set<string>();

describe("classifyCommand", () => {
  it("runs ordinary commands on the shared connection, whatever their case", () => {
    for (const c of [
      ["get", "k"],
      ["SET", "k", "v"],
      ["xread", "STREAMS", "s", "0"],
      ["EVALSHA", "abc", "0"],
    ]) {
      expect(classifyCommand(c, none)).toEqual({ kind: "shared" });
    }
  });

  it("denies dangerous commands with the documented message", () => {
    expect(classifyCommand(["flushall"], none)).toEqual({
      kind: "denied",
      message: "ERR command 'flushall' is disabled on this bridge",
    });
    expect(classifyCommand(["CONFIG", "GET", "*"], none)).toMatchObject({ kind: "denied" });
    expect(classifyCommand(["script", "flush"], none)).toEqual({
      kind: "denied",
      message: "ERR command 'script|flush' is disabled on this bridge",
    });
    expect(classifyCommand(["CLIENT", "KILL", "ID", "1"], none)).toMatchObject({ kind: "denied" });
  });

  it("denies KEYS, INFO and SLOWLOG (other clients' arguments), liftable like the others", () => {
    for (const c of [["KEYS", "*"], ["info"], ["SLOWLOG", "GET"], ["latency", "latest"]]) {
      expect(classifyCommand(c, none)).toEqual({
        kind: "denied",
        message: `ERR command '${(c[0] as string).toLowerCase()}' is disabled on this bridge`,
      });
    }
    expect(classifyCommand(["KEYS", "*"], new Set(["KEYS"]))).toEqual({ kind: "shared" });
    expect(isAllowableEntry("SLOWLOG|GET")).toBe(true);
  });

  it("keeps harmless subcommands of denied commands", () => {
    expect(classifyCommand(["SCRIPT", "LOAD", "return 1"], none)).toEqual({ kind: "shared" });
    expect(classifyCommand(["client", "id"], none)).toEqual({ kind: "shared" });
  });

  it("lifts a command or one subcommand named in the allow-list", () => {
    expect(classifyCommand(["FLUSHDB"], new Set(["FLUSHDB"]))).toEqual({ kind: "shared" });
    const configGet = new Set(["CONFIG|GET"]);
    expect(classifyCommand(["config", "get", "maxmemory"], configGet)).toEqual({ kind: "shared" });
    expect(classifyCommand(["config", "set", "maxmemory", "1"], configGet)).toMatchObject({ kind: "denied" });
  });

  it("never runs connection-state or push commands, even when allowed", () => {
    const all = new Set(["SUBSCRIBE", "SELECT", "CLIENT"]);
    for (const c of [["SUBSCRIBE", "ch"], ["select", "1"], ["HELLO", "3"], ["MONITOR"], ["CLIENT", "REPLY", "OFF"]]) {
      expect(classifyCommand(c, all), c.join(" ")).toMatchObject({ kind: "denied" });
    }
    expect(classifyCommand(["subscribe", "ch"], none)).toEqual({
      kind: "denied",
      message:
        "ERR command 'subscribe' is disabled on this bridge in a command body; use the server-sent-events form POST /subscribe/<channel>",
    });
    expect(classifyCommand(["MONITOR"], none)).toEqual({
      kind: "denied",
      message: "ERR command 'monitor' is disabled on this bridge (it cannot work over request/response)",
    });
  });

  it("sends blocking and transaction commands to a dedicated connection", () => {
    expect(classifyCommand(["BLPOP", "k", "1"], none)).toEqual({ kind: "dedicated", blocking: true });
    expect(classifyCommand(["xreadgroup", "GROUP", "g", "c", "block", "0", "STREAMS", "s", ">"], none)).toEqual({
      kind: "dedicated",
      blocking: true,
    });
    // "BLOCK" after STREAMS is a stream name, not the option.
    expect(classifyCommand(["XREAD", "STREAMS", "BLOCK", "0"], none)).toEqual({ kind: "shared" });
    expect(classifyCommand(["WATCH", "k"], none)).toEqual({ kind: "dedicated", blocking: false });
    expect(classifyCommand(["exec"], none)).toEqual({ kind: "dedicated", blocking: false });
  });
});

describe("isAllowableEntry", () => {
  it("accepts denied commands and their subcommands only", () => {
    expect(isAllowableEntry("FLUSHALL")).toBe(true);
    expect(isAllowableEntry("CONFIG|GET")).toBe(true);
    expect(isAllowableEntry("client|kill")).toBe(true);
    expect(isAllowableEntry("GET")).toBe(false);
    expect(isAllowableEntry("SUBSCRIBE")).toBe(false);
    expect(isAllowableEntry("CLIENT|REPLY")).toBe(false);
  });
});

describe("capBlockingTimeout", () => {
  it("caps forever and too-long timeouts, in each command's unit and position", () => {
    expect(capBlockingTimeout(["BLPOP", "a", "b", "0"], 5000)).toEqual(["BLPOP", "a", "b", "5"]);
    expect(capBlockingTimeout(["brpop", "a", "60"], 1500)).toEqual(["brpop", "a", "1.5"]);
    expect(capBlockingTimeout(["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"], 2000)).toEqual([
      "BLMOVE",
      "a",
      "b",
      "LEFT",
      "RIGHT",
      "2",
    ]);
    expect(capBlockingTimeout(["BZMPOP", "0", "1", "z", "MIN"], 3000)).toEqual(["BZMPOP", "3", "1", "z", "MIN"]);
    expect(capBlockingTimeout(["WAIT", "1", "0"], 3000)).toEqual(["WAIT", "1", "3000"]);
    expect(capBlockingTimeout(["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "$"], 3000)).toEqual([
      "XREAD",
      "COUNT",
      "1",
      "BLOCK",
      "3000",
      "STREAMS",
      "s",
      "$",
    ]);
  });

  it("leaves short timeouts, non-blocking commands and junk alone", () => {
    expect(capBlockingTimeout(["BLPOP", "a", "0.5"], 5000)).toEqual(["BLPOP", "a", "0.5"]);
    expect(capBlockingTimeout(["XREAD", "STREAMS", "s", "0"], 5000)).toEqual(["XREAD", "STREAMS", "s", "0"]);
    expect(capBlockingTimeout(["BLPOP", "a", "soon"], 5000)).toEqual(["BLPOP", "a", "soon"]);
    expect(capBlockingTimeout(["GET", "0"], 5000)).toEqual(["GET", "0"]);
  });
});
