import { describe, expect, it } from "vitest";
import { chDateTime64 } from "./clickhouse-time.ts";

describe("chDateTime64", () => {
  it("prints UTC with milliseconds, as DateTime64(3) parses it", () => {
    expect(chDateTime64(Date.parse("2026-11-25T12:34:56.789Z"))).toBe("2026-11-25 12:34:56.789");
    expect(chDateTime64(0)).toBe("1970-01-01 00:00:00.000");
  });
});
