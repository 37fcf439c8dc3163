import { describe, expect, it } from "vitest";
import { ScriptShaMap, sha1, stripUnknownScriptFlags } from "./scripts.ts";

describe("stripUnknownScriptFlags", () => {
  it("drops flags Redis does not know and keeps the rest of the script", () => {
    expect(stripUnknownScriptFlags("#!lua flags=allow-key-locking\nreturn 1")).toBe("#!lua flags=\nreturn 1");
    expect(stripUnknownScriptFlags("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe(
      "#!lua flags=no-writes\nreturn 1",
    );
  });

  it("leaves scripts Redis accepts untouched", () => {
    expect(stripUnknownScriptFlags("return 1")).toBeNull();
    expect(stripUnknownScriptFlags("#!lua flags=no-writes\nreturn 1")).toBeNull();
    expect(stripUnknownScriptFlags("#!lua\nreturn 1")).toBeNull();
  });
});

describe("ScriptShaMap", () => {
  const script = "#!lua flags=allow-key-locking\nreturn 1";
  const fixed = "#!lua flags=\nreturn 1";

  it("rewrites EVAL and maps the client's SHA for later EVALSHA and SCRIPT EXISTS", () => {
    const map = new ScriptShaMap();
    expect(map.rewrite(["evalsha", sha1(script), "0"]).args).toEqual(["evalsha", sha1(script), "0"]);
    expect(map.rewrite(["eval", script, "1", "k"]).args).toEqual(["eval", fixed, "1", "k"]);
    expect(map.rewrite(["evalsha", sha1(script), "1", "k"]).args).toEqual(["evalsha", sha1(fixed), "1", "k"]);
    expect(map.rewrite(["script", "exists", sha1(script), "abc"]).args).toEqual([
      "script",
      "exists",
      sha1(fixed),
      "abc",
    ]);
  });

  it("answers SCRIPT LOAD with the SHA of the text the client sent", () => {
    const map = new ScriptShaMap();
    expect(map.rewrite(["SCRIPT", "LOAD", script])).toEqual({
      args: ["SCRIPT", "LOAD", fixed],
      loadedSha: sha1(script),
    });
    expect(map.rewrite(["SCRIPT", "LOAD", "return 2"])).toEqual({ args: ["SCRIPT", "LOAD", "return 2"] });
  });
});
