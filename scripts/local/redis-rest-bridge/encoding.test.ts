import { describe, expect, it } from "vitest";
import { ApiError } from "#core/errors.ts";
import {
  parseCommandBody,
  parseCommandListBody,
  responseEncodingOf,
  toRedisArgument,
  toWireEntry,
} from "./encoding.ts";

class ReplyError extends Error {
  override name = "ReplyError";
}

describe("arguments", () => {
  it("turns JSON numbers and booleans into the strings Redis expects", () => {
    expect(parseCommandBody('["SET","k",1.5,true,false,-0,"x"]')).toEqual([
      "SET",
      "k",
      "1.5",
      "true",
      "false",
      "-0",
      "x",
    ]);
  });

  it("keeps a number's literal text (no rounding through a double)", () => {
    expect(parseCommandBody('["INCRBY","k",12345678901234567890]')).toEqual(["INCRBY", "k", "12345678901234567890"]);
    expect(parseCommandBody('["ZADD","z",1e3,"m"]')).toEqual(["ZADD", "z", "1e3", "m"]);
  });

  it("keeps strings exactly, unicode included", () => {
    expect(parseCommandBody('["SET","k","h\\u00e9 🚀 \\"q\\""]')).toEqual(["SET", "k", 'hé 🚀 "q"']);
  });

  it("rejects objects, nulls, empty commands and bad JSON with 400", () => {
    for (const body of ['["SET","k",{"a":1}]', '["SET","k",null]', "[]", '[""]', '{"cmd":"GET"}', "[", "", "42"]) {
      const err = (() => {
        try {
          parseCommandBody(body);
        } catch (e) {
          return e;
        }
      })();
      expect(err, body).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(400);
    }
    expect(() => toRedisArgument([1], "x")).toThrow(/strings, numbers or booleans/);
  });

  it("parses pipelines and names the bad command", () => {
    expect(parseCommandListBody('[["GET","a"],["INCRBY","b",2]]')).toEqual([
      ["GET", "a"],
      ["INCRBY", "b", "2"],
    ]);
    expect(() => parseCommandListBody('[["GET","a"],"PING"]')).toThrow(/command 2/);
    expect(() => parseCommandListBody("[]")).toThrow(/non-empty/);
  });
});

describe("replies", () => {
  const b = (s: string) => Buffer.from(s);

  it("base64-encodes every string at any depth, statuses included; integers and nulls pass", () => {
    const reply = [b("OK"), 42, null, [b("é"), [b("QUEUED"), -1]], Buffer.from([0xff, 0x00])];
    expect(toWireEntry(reply, "base64")).toEqual({
      result: ["T0s=", 42, null, ["w6k=", ["UVVFVUVE", -1]], "/wA="],
    });
    expect(toWireEntry(b("PONG"), "base64")).toEqual({ result: "UE9ORw==" });
    expect(toWireEntry(b("QUEUED"), "base64")).toEqual({ result: "UVVFVUVE" });
    expect(toWireEntry(null, "base64")).toEqual({ result: null });
    expect(toWireEntry(7, "base64")).toEqual({ result: 7 });
  });

  it("answers UTF-8 text without the header", () => {
    expect(toWireEntry([b("héllo"), 1, null], "utf8")).toEqual({ result: ["héllo", 1, null] });
    expect(toWireEntry(b("OK"), "utf8")).toEqual({ result: "OK" });
  });

  it("leaves a top-level OK as is with base64, as Upstash does", () => {
    expect(toWireEntry(b("OK"), "base64")).toEqual({ result: "OK" });
    expect(toWireEntry(b("OKAY"), "base64")).toEqual({ result: "T0tBWQ==" });
  });

  it("never encodes error text, and marks errors nested in arrays as errors", () => {
    expect(toWireEntry(new ReplyError("WRONGTYPE Operation against a key"), "base64")).toEqual({
      error: "WRONGTYPE Operation against a key",
    });
    expect(toWireEntry([new ReplyError("ERR inner")], "utf8")).toEqual({ result: [{ error: "ERR inner" }] });
    expect(toWireEntry([b("a"), [new ReplyError("ERR deep")]], "base64")).toEqual({
      result: ["YQ==", [{ error: "ERR deep" }]],
    });
  });

  it("reads the Upstash-Encoding header loosely", () => {
    expect(responseEncodingOf("base64")).toBe("base64");
    expect(responseEncodingOf(" BASE64 ")).toBe("base64");
    expect(responseEncodingOf(undefined)).toBe("utf8");
    expect(responseEncodingOf("gzip")).toBe("utf8");
  });
});
