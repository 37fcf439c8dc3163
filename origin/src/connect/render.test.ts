import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { judgeStatus, renderConnector } from "./render.ts";

describe("the connector template", () => {
  // The consumers need one row's changes in order (docs/delivery-and-faults.md, "Partitions and
  // keys"): Debezium keys each change by its row's primary key, which Kafka Connect hashes to a
  // partition. Nothing in the template may key them otherwise.
  const template = JSON.parse(
    readFileSync(join(import.meta.dirname, "../../../connectors/debezium-postgres-connector.json"), "utf8"),
  ) as { config: Record<string, string> };
  it("keys every change by its row's primary key", () => {
    const c = template.config;
    expect(Object.keys(c).filter((k) => k.startsWith("message.key.columns"))).toEqual([]);
    expect(c.transforms?.split(",").map((t) => t.trim())).toEqual(["route"]);
    expect(c["transforms.route.type"]).toBe("org.apache.kafka.connect.transforms.RegexRouter");
    expect(c["key.converter"]).toBe("org.apache.kafka.connect.json.JsonConverter");
    expect(c["key.converter.schemas.enable"]).toBe("false");
  });
});

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
