import { describe, expect, it } from "vitest";
import { judgeStatus, renderConnector } from "./render.ts";

describe("renderConnector", () => {
  it("substitutes ${NAME} placeholders and leaves regex $1 alone", () => {
    const out = renderConnector(
      { name: "${N}", config: { "slot.name": "${S}_x", "transforms.route.replacement": "cdc.$1" } },
      { N: "feed", S: "slot" },
    );
    expect(out).toEqual({ name: "feed", config: { "slot.name": "slot_x", "transforms.route.replacement": "cdc.$1" } });
  });

  it("names every missing variable at once", () => {
    expect(() => renderConnector({ name: "${A}", config: { x: "${B}", y: "${A}" } }, {})).toThrow(/needs A, B/);
    expect(renderConnector({ name: "n", config: { x: "${NS}cdc" } }, { NS: "" }).config.x).toBe("cdc");
  });
});

describe("judgeStatus", () => {
  const base = { name: "c", connector: { state: "RUNNING" } };
  it("is running only when the connector and every task run", () => {
    expect(judgeStatus({ ...base, tasks: [{ id: 0, state: "RUNNING" }] })).toEqual({ kind: "running", tasks: 1 });
    expect(judgeStatus({ ...base, tasks: [] }).kind).toBe("starting");
    expect(judgeStatus({ ...base, tasks: [{ id: 0, state: "UNASSIGNED" }] }).kind).toBe("starting");
  });
  it("reports failed tasks with the first line of the trace", () => {
    expect(judgeStatus({ ...base, tasks: [{ id: 0, state: "FAILED", trace: "boom\n at x" }] })).toEqual({
      kind: "failed",
      failedTasks: [0],
      connectorFailed: false,
      trace: "boom",
    });
  });
  it("treats an unknown connector as missing", () => {
    expect(judgeStatus(null)).toEqual({ kind: "missing" });
  });
});
