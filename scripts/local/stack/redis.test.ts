import { describe, expect, it } from "vitest";
import { type AofClient, aofSizeNote, formatBytes, type RedisPersistence, rewriteAof } from "./redis.ts";

/** INFO persistence text with these fields (the rest as an idle AOF server has them). */
function info(f: Record<string, string | number>): string {
  const all = {
    aof_enabled: 1,
    aof_rewrite_in_progress: 0,
    aof_rewrite_scheduled: 0,
    aof_last_bgrewrite_status: "ok",
    aof_rewrites: 3,
    aof_current_size: 1_500_000_000,
    aof_base_size: 89,
    ...f,
  };
  return `# Persistence\r\n${Object.entries(all)
    .map(([k, v]) => `${k}:${v}`)
    .join("\r\n")}\r\n`;
}

/** A client whose INFO answers come from `infos` in turn (the last one repeats); BGREWRITEAOF answers `bg`. */
function fake(infos: string[], bg: (() => unknown)[] = []) {
  const calls: string[] = [];
  let i = 0;
  let b = 0;
  const client: AofClient = {
    info: async () => {
      calls.push("INFO");
      return infos[Math.min(i++, infos.length - 1)] as string;
    },
    call: async (cmd: string) => {
      calls.push(cmd);
      const answer = bg[Math.min(b++, bg.length - 1)];
      return answer ? answer() : "Background append only file rewriting started";
    },
  };
  return { client, calls };
}

describe("rewriteAof", () => {
  it("issues BGREWRITEAOF and waits until the rewrite has run and finished", async () => {
    const { client, calls } = fake([
      info({}),
      info({ aof_rewrite_in_progress: 1 }),
      info({ aof_rewrite_in_progress: 1 }),
      info({ aof_rewrites: 4, aof_current_size: 40_000_000 }),
    ]);
    const r = await rewriteAof(client, { pollMs: 1 });
    expect(r).toMatchObject({ rewritten: true, beforeBytes: 1_500_000_000, afterBytes: 40_000_000 });
    expect(calls).toEqual(["INFO", "BGREWRITEAOF", "INFO", "INFO", "INFO"]);
  });

  it("waits for a rewrite only scheduled (behind a save), not just for nothing to run", async () => {
    const { client, calls } = fake([
      info({}),
      info({ aof_rewrite_scheduled: 1 }),
      // Neither running nor counted yet: not done.
      info({}),
      info({ aof_rewrite_in_progress: 1 }),
      info({ aof_rewrites: 4 }),
    ]);
    expect((await rewriteAof(client, { pollMs: 1 })).rewritten).toBe(true);
    expect(calls.filter((c) => c === "INFO")).toHaveLength(5);
  });

  it("with a rewrite already running, waits it out and then asks for its own", async () => {
    const { client, calls } = fake(
      [
        info({ aof_rewrite_in_progress: 1 }),
        info({ aof_rewrite_in_progress: 1 }),
        info({ aof_rewrites: 4 }),
        info({ aof_rewrites: 4, aof_rewrite_in_progress: 1 }),
        info({ aof_rewrites: 5 }),
      ],
      [
        () => {
          throw new Error("ERR Background append only file rewriting already in progress");
        },
        () => "Background append only file rewriting started",
      ],
    );
    expect((await rewriteAof(client, { pollMs: 1 })).rewritten).toBe(true);
    expect(calls.filter((c) => c === "BGREWRITEAOF")).toHaveLength(2);
  });

  it("leaves a server with AOF off alone, and throws when the rewrite fails or takes too long", async () => {
    const off = fake([info({ aof_enabled: 0 })]);
    expect(await rewriteAof(off.client)).toMatchObject({ rewritten: false });
    expect(off.calls).toEqual(["INFO"]);
    const failed = fake([info({}), info({ aof_rewrites: 4, aof_last_bgrewrite_status: "err" })]);
    await expect(rewriteAof(failed.client, { pollMs: 1 })).rejects.toThrow(/BGREWRITEAOF failed/);
    const stuck = fake([info({}), info({ aof_rewrite_in_progress: 1 })]);
    await expect(rewriteAof(stuck.client, { pollMs: 1, timeoutMs: 20 })).rejects.toThrow(/not finished/);
  });
});

describe("the status line's AOF size", () => {
  const p = { aofCurrentBytes: 1_610_612_736, aofBaseBytes: 89 } as RedisPersistence;
  it("says the size on disk and Redis's own figure", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(aofSizeNote(p, 1_610_612_900)).toBe("AOF 1.5 GiB on disk, aof_current_size 1.5 GiB, base 89 B");
    expect(aofSizeNote(p, null)).toBe("AOF aof_current_size 1.5 GiB, base 89 B");
  });
});
