import { describe, expect, it } from "vitest";
import { canonical, compareStreams, differences, type Row } from "./consistency.ts";

async function* rows(list: Row[]): AsyncGenerator<Row> {
  yield* list;
}
const r = (k: string, v: unknown[], live = 1): Row => ({ k, v: JSON.stringify(v), live });

describe("consistency compare", () => {
  it("reports no difference and equal digests for the same rows in the same order", async () => {
    const same = [r("a", ["x", 1]), r("b", ["y", 2], 0)];
    const rep = await compareStreams("users", rows(same), rows(same));
    expect(differences(rep)).toBe(0);
    expect(rep.pg).toEqual(rep.ch);
    expect(rep.pg.live).toBe(1);
  });

  it("lists rows missing in ClickHouse, extra in ClickHouse, and different", async () => {
    const rep = await compareStreams(
      "users",
      rows([r("a", ["x"]), r("b", ["y"]), r("d", ["d"])]),
      rows([r("b", ["Y"]), r("c", ["c"]), r("d", ["d"])]),
    );
    expect(rep.missingInClickHouse).toEqual(["a"]);
    expect(rep.extraInClickHouse).toEqual(["c"]);
    expect(rep.different).toEqual([{ key: "b", pg: '["y"]', ch: '["Y"]' }]);
    expect(differences(rep)).toBe(3);
    expect(rep.pg.digest).not.toBe(rep.ch.digest);
  });

  it("treats numbers and numeric strings alike (the two sides print JSON differently)", () => {
    expect(canonical('[1, null, "a"]')).toBe(canonical('["1",null,"a"]'));
  });
});
