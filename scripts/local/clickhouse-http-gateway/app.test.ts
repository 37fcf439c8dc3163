import { describe, expect, it } from "vitest";
import { responseCodec } from "./app.ts";

describe("responseCodec: the server's choice of response compression", () => {
  it("only when the client asked for compression", () => {
    expect(responseCodec(false, "gzip")).toBeUndefined();
    expect(responseCodec(true, undefined)).toBeUndefined();
    expect(responseCodec(true, "")).toBeUndefined();
  });

  it("prefers zstd, then br, then gzip, then deflate, whatever the client's order", () => {
    expect(responseCodec(true, "zstd, gzip, br")).toBe("zstd");
    expect(responseCodec(true, "gzip, zstd")).toBe("zstd");
    expect(responseCodec(true, "br, gzip")).toBe("br");
    expect(responseCodec(true, "gzip")).toBe("gzip");
    expect(responseCodec(true, "deflate, gzip")).toBe("gzip");
    expect(responseCodec(true, "deflate")).toBe("deflate");
  });

  it("q=0 refuses a coding; other q-values do not reorder", () => {
    expect(responseCodec(true, "br;q=0, gzip")).toBe("gzip");
    expect(responseCodec(true, "zstd;q=0")).toBeUndefined();
    expect(responseCodec(true, "gzip;q=0.0")).toBeUndefined();
    expect(responseCodec(true, "gzip;q=0.5, zstd")).toBe("zstd");
    expect(responseCodec(true, "zstd;q=0.1, br;q=1")).toBe("zstd");
    expect(responseCodec(true, "zstd; q=0, gzip ; q=1")).toBe("gzip");
  });

  it("whole tokens, case-insensitive, and * for any coding not refused", () => {
    expect(responseCodec(true, "X-gzip-custom")).toBeUndefined();
    expect(responseCodec(true, "my-br-extra, gzip")).toBe("gzip");
    expect(responseCodec(true, "GZip")).toBe("gzip");
    expect(responseCodec(true, "lz4, snappy")).toBeUndefined();
    expect(responseCodec(true, "*")).toBe("zstd");
    expect(responseCodec(true, "*;q=0")).toBeUndefined();
    expect(responseCodec(true, "zstd;q=0, *;q=1")).toBe("br");
  });
});
