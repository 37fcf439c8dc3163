/**
 * The ClickHouse cluster DDL (clickhouse/cluster/) against the single-node DDL (clickhouse/):
 *
 * - every statement parses as written, `ON CLUSTER` included (`EXPLAIN AST`);
 * - every statement runs on a node of a cluster: an in-process chDB whose configuration has
 *   the `{cluster}`, `{shard}` and `{replica}` macros, a two-shard `remote_servers` entry and
 *   ClickHouse's in-memory test keeper, which is enough to create Replicated and Distributed
 *   tables (nothing is inserted: the shards are not reachable). `ON CLUSTER` is the one thing
 *   taken out, since chDB runs no distributed DDL queue;
 * - the result covers the single-node schema after all its migrations: every table has a
 *   `<name>_local` Replicated table with the same columns, engine parameters, keys, TTL and
 *   settings, and a Distributed `<name>` over it; every materialized view writes the same SELECT
 *   to the `_local` target; every plain view has the same SELECT (experiment_interactions, which
 *   runs per shard, the same columns). A table, column or view added to clickhouse/ and not to
 *   clickhouse/cluster/ fails here.
 *
 * Needs no service, but loads chDB (one data directory per process), so it runs with the
 * integration tests, one file per process.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChMigration, loadChMigrations } from "../../origin/ch/migrate.ts";

const CLUSTER_DDL_DIR = join(import.meta.dirname, "../../clickhouse/cluster");
const ON_CLUSTER = " ON CLUSTER '{cluster}'";
/** The single-node schema and the cluster node's, side by side in one chDB. */
const NODE_DB = "ddl_single_node";
const CLUSTER_DB = "ddl_cluster_node";
/** Views of the cluster variant with no single-node namesake (what they stand for is named). */
const CLUSTER_ONLY: Record<string, string> = { experiment_interactions_local: "experiment_interactions" };

const CONFIG = `<clickhouse>
  <zookeeper><implementation>testkeeper</implementation></zookeeper>
  <macros><cluster>feed_cluster</cluster><shard>01</shard><replica>replica_1</replica></macros>
  <remote_servers>
    <feed_cluster>
      <shard><internal_replication>true</internal_replication>
        <replica><host>shard1-a</host><port>9000</port></replica><replica><host>shard1-b</host><port>9000</port></replica></shard>
      <shard><internal_replication>true</internal_replication>
        <replica><host>shard2-a</host><port>9000</port></replica><replica><host>shard2-b</host><port>9000</port></replica></shard>
    </feed_cluster>
  </remote_servers>
</clickhouse>
`;

interface TableRow {
  name: string;
  engine: string;
  engine_full: string;
  create_table_query: string;
}
interface ColumnRow {
  table: string;
  name: string;
  type: string;
  default_kind: string;
  default_expression: string;
}

let dir: string;
let session: Session;
let cluster: ChMigration[];
const clusterStatements = () =>
  cluster.flatMap((m) => m.statements.map((s) => ({ file: `${m.version}_${m.name}`, s })));
const head = (s: string) => s.split("\n")[0] as string;

async function run(database: string, sql: string): Promise<void> {
  await session.queryAsync(`USE \`${database}\`;\n${sql}`, { format: "TSV" });
}

async function rows<T>(sql: string): Promise<T[]> {
  const text = (await session.queryAsync(sql, { format: "JSONEachRow" })).text();
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

const tablesOf = async (database: string) =>
  new Map(
    (
      await rows<TableRow>(
        `SELECT name, engine, engine_full, create_table_query FROM system.tables WHERE database = '${database}' ORDER BY name`,
      )
    ).map((t) => [t.name, t]),
  );

const columnsOf = async (database: string, table: string) =>
  rows<ColumnRow>(
    `SELECT table, name, type, default_kind, default_expression FROM system.columns
     WHERE database = '${database}' AND table = '${table}' ORDER BY position`,
  ).then((cs) => cs.map(({ table: _t, ...c }) => c));

/** A statement as stored by the engine, without database names and `_local` suffixes. */
const unqualified = (q: string) =>
  q.replace(new RegExp(`\\b(?:${NODE_DB}|${CLUSTER_DB})\\.`, "g"), "").replace(/\b(\w+)_local\b/g, "$1");

/** A local table's statement with its engine as the single-node one: no `Replicated`, no path and replica. */
const unreplicated = (q: string) =>
  unqualified(
    q.replace(/\bReplicated(\w*MergeTree)\('[^']*', '[^']*'(?:, )?/, "$1(").replace(/MergeTree\(\)/, "MergeTree"),
  );

const isStorage = (t: TableRow) => t.engine.endsWith("MergeTree");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ch-cluster-ddl-"));
  writeFileSync(join(dir, "config.xml"), CONFIG);
  session = new Session(join(dir, "data"), { connectionArgs: [`--config-file=${join(dir, "config.xml")}`] });
  cluster = loadChMigrations(CLUSTER_DDL_DIR);
  await session.queryAsync(`CREATE DATABASE ${NODE_DB}`, { format: "TSV" });
  await session.queryAsync(`CREATE DATABASE ${CLUSTER_DB}`, { format: "TSV" });
  for (const m of loadChMigrations()) {
    for (const s of m.statements) await run(NODE_DB, s);
  }
});

afterAll(async () => {
  if (session) {
    // Replicated tables left on the test keeper hold the engine's shutdown for minutes (measured:
    // close() returned only when the process was killed); dropped first, it closes at once.
    for (const db of [CLUSTER_DB, NODE_DB]) {
      await session.queryAsync(`DROP DATABASE IF EXISTS ${db} SYNC`, { format: "TSV" }).catch(() => {});
    }
    session.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("clickhouse/cluster/", () => {
  it("has files the migration loader reads, in order", () => {
    expect(cluster.map((m) => `${m.version}_${m.name}`)).toEqual(["0001_storage", "0002_views"]);
    expect(clusterStatements().length).toBeGreaterThan(40);
  });

  it("parses every statement as written (EXPLAIN AST)", async () => {
    const failed: string[] = [];
    for (const { file, s } of clusterStatements()) {
      try {
        await session.queryAsync(`EXPLAIN AST ${s}`, { format: "TSV" });
      } catch (err) {
        failed.push(`${file}: ${head(s)}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    expect(failed).toEqual([]);
  });

  it("creates each object on every node, idempotently (IF NOT EXISTS … ON CLUSTER '{cluster}')", () => {
    const odd = clusterStatements()
      .filter(
        ({ s }) => !/^CREATE (?:TABLE|MATERIALIZED VIEW|VIEW) IF NOT EXISTS \w+ ON CLUSTER '\{cluster\}'[\s(]/.test(s),
      )
      .map(({ file, s }) => `${file}: ${head(s)}`);
    expect(odd).toEqual([]);
  });

  it("runs every statement on a cluster node (ON CLUSTER aside)", async () => {
    const failed: string[] = [];
    for (const { file, s } of clusterStatements()) {
      try {
        await run(CLUSTER_DB, s.replace(ON_CLUSTER, ""));
      } catch (err) {
        failed.push(`${file}: ${head(s)}: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    expect(failed).toEqual([]);
  });

  it("has every table and view of the single-node DDL, each table also as <name>_local, and nothing else", async () => {
    const node = await tablesOf(NODE_DB);
    const clu = await tablesOf(CLUSTER_DB);
    const expected = [
      ...node.keys(),
      ...[...node.values()].filter(isStorage).map((t) => `${t.name}_local`),
      ...Object.keys(CLUSTER_ONLY),
    ].sort();
    expect([...clu.keys()].sort()).toEqual(expected);
  });

  it("keeps each table's columns, engine parameters, keys, TTL and settings in a Replicated <name>_local", async () => {
    const node = await tablesOf(NODE_DB);
    const clu = await tablesOf(CLUSTER_DB);
    for (const t of [...node.values()].filter(isStorage)) {
      const local = clu.get(`${t.name}_local`);
      expect(local?.engine, t.name).toBe(`Replicated${t.engine}`);
      // One replication path per shard and table, one replica name per node.
      expect(local?.engine_full, t.name).toMatch(
        new RegExp(
          `^Replicated${t.engine}\\('/clickhouse/tables/\\{shard\\}/${CLUSTER_DB}/${t.name}_local', '\\{replica\\}'`,
        ),
      );
      // The single node's insert deduplication log (clickhouse/0007) is what a Replicated table
      // keeps by default (replicated_deduplication_window): not a setting the cluster DDL repeats.
      const single = unqualified(t.create_table_query).replace(/, non_replicated_deduplication_window = \d+/, "");
      expect(unreplicated(local?.create_table_query ?? ""), t.name).toBe(single);
    }
  });

  it("puts a Distributed <name> with the same columns over each <name>_local, sharded by a column", async () => {
    const node = await tablesOf(NODE_DB);
    const clu = await tablesOf(CLUSTER_DB);
    for (const t of [...node.values()].filter(isStorage)) {
      const dist = clu.get(t.name);
      expect(dist?.engine, t.name).toBe("Distributed");
      const args = /^Distributed\('\{cluster\}', '([^']+)', '([^']+)', (.+)\)$/.exec(dist?.engine_full ?? "");
      expect(args, `${t.name}: ${dist?.engine_full}`).not.toBeNull();
      const [, database, remote, key] = args as unknown as [string, string, string, string];
      expect([database, remote], t.name).toEqual([CLUSTER_DB, `${t.name}_local`]);
      // Rows that replace or aggregate one another must meet on one shard: never a random key.
      if (t.engine !== "MergeTree") expect(key, t.name).not.toMatch(/rand/);
      expect(await columnsOf(CLUSTER_DB, t.name), t.name).toEqual(await columnsOf(NODE_DB, t.name));
    }
  });

  it("keeps every materialized view's SELECT, reading and writing the _local tables", async () => {
    const node = await tablesOf(NODE_DB);
    const clu = await tablesOf(CLUSTER_DB);
    for (const mv of [...node.values()].filter((t) => t.engine === "MaterializedView")) {
      const c = clu.get(mv.name);
      expect(c?.engine, mv.name).toBe("MaterializedView");
      // Views fire on the node that receives the insert: they must read and write local tables.
      expect(c?.create_table_query, mv.name).toMatch(new RegExp(`TO ${CLUSTER_DB}\\.\\w+_local\\b`));
      expect(c?.create_table_query, mv.name).toMatch(new RegExp(`FROM ${CLUSTER_DB}\\.\\w+_local\\b`));
      expect(unqualified(c?.create_table_query ?? ""), mv.name).toBe(unqualified(mv.create_table_query));
    }
  });

  it("keeps every plain view's SELECT over the Distributed tables (or, run per shard, its columns)", async () => {
    const node = await tablesOf(NODE_DB);
    const clu = await tablesOf(CLUSTER_DB);
    const perShard = new Set(Object.values(CLUSTER_ONLY));
    for (const v of [...node.values()].filter((t) => t.engine === "View")) {
      const c = clu.get(v.name);
      if (perShard.has(v.name)) {
        expect(c?.engine, v.name).toBe("Distributed");
        expect(await columnsOf(CLUSTER_DB, v.name), v.name).toEqual(await columnsOf(NODE_DB, v.name));
      } else {
        expect(c?.engine, v.name).toBe("View");
        expect(c?.create_table_query, v.name).not.toMatch(/_local\b/);
        expect(unqualified(c?.create_table_query ?? ""), v.name).toBe(unqualified(v.create_table_query));
      }
    }
  });
});
