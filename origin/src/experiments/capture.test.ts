import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_TOPICS, EXPERIMENT_TOPICS } from "#core/topics.ts";
import { type ConnectorTemplate, renderConnector, withCapturedTables } from "../connect/render.ts";

describe("the experiments tables are captured", () => {
  it("the connector's table list gains the experiments tables, once", () => {
    expect(withCapturedTables("public.users,public.posts", ["users", "posts", "experiments"])).toBe(
      "public.users,public.posts,public.experiments",
    );
    const template = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../connectors/debezium-postgres-connector.json"), "utf8"),
    ) as ConnectorTemplate;
    const vars = Object.fromEntries(
      [...JSON.stringify(template).matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => [m[1] as string, "x"]),
    );
    const list = renderConnector(template, vars).config["table.include.list"]?.split(",");
    expect(list).toEqual([
      "public.users",
      "public.posts",
      "public.follows",
      "public.likes",
      "public.comments",
      "public.blocks",
      "public.experiments",
      "public.experiment_changes",
    ]);
    expect(renderConnector({ name: "n", config: { a: "b" } }, {}).config).toEqual({ a: "b" });
  });
  it("their topics are the projection's, apart from the sink's and the index's", () => {
    expect(EXPERIMENT_TOPICS).toEqual(["cdc.experiments", "cdc.experiment_changes"]);
    expect(ALL_TOPICS).toEqual([
      "cdc.users",
      "cdc.posts",
      "cdc.follows",
      "cdc.likes",
      "cdc.comments",
      "cdc.blocks",
      "events",
    ]);
  });
});
