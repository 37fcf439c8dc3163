/**
 * What the engine lets a query touch, enforced by chDB's own access control rather than by the
 * gateway's lexer. chDB (26.7) reads users from a `users_config` named in `--config-file`; the
 * gateway writes both files into its data directory at start and passes `--config-file` to
 * every session (the embedded server is process-wide: the first session's config holds).
 *
 * Tried on chDB 26.7 (2026-12):
 * - `REVOKE SOURCES` in the user's `<grants>` turns off every table function and engine that
 *   reaches outside the database: file, url, s3, hdfs, azureBlobStorage, remote, mysql,
 *   postgresql, sqlite, mongodb, redis, jdbc, odbc (→ `ACCESS_DENIED` "necessary to have the
 *   grant READ ON FILE", …), and `INSERT INTO FUNCTION file(…)` (WRITE ON FILE).
 * - Table engines are not sources: `CREATE TABLE … ENGINE = File(…)` / `URL(…)` still worked.
 *   `table_engines_require_grant` plus grants for the engines the product uses closes that.
 * - `SYSTEM SHUTDOWN` terminated the whole process: revoked. `executable()` needs no grant, so
 *   `user_scripts_path` points at an empty directory of the gateway's own.
 * - `--user=<other>` as a connection argument does not switch users (every session runs as
 *   `default`), so GET's read-only mode is the `readonly = 2` setting, not a second user.
 * - `CREATE USER` / `REVOKE` at run time are refused (the users file storage is read-only), so
 *   no request can grant itself more.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Table engines a statement may create when host access is off: local storage only. */
export const LOCAL_TABLE_ENGINES: readonly string[] = [
  "MergeTree",
  "ReplacingMergeTree",
  "SummingMergeTree",
  "AggregatingMergeTree",
  "CollapsingMergeTree",
  "VersionedCollapsingMergeTree",
  "CoalescingMergeTree",
  "Memory",
  "Null",
  "Set",
  "Join",
  "Log",
  "TinyLog",
  "StripeLog",
  "Buffer",
  "Merge",
  "GenerateRandom",
];

export interface EngineAccess {
  /** Allow table functions/engines that reach the host or the network (CH_GATEWAY_HOST_ACCESS). */
  hostAccess: boolean;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The GRANT/REVOKE list of the one engine user every session runs as. */
export function grantQueries(access: EngineAccess): string[] {
  const grants = ["GRANT ALL ON *.*", "REVOKE SYSTEM SHUTDOWN ON *.*"];
  if (access.hostAccess) return grants;
  return [
    ...grants,
    "REVOKE SOURCES ON *.*",
    "REVOKE CREATE DICTIONARY ON *.*",
    "REVOKE BACKUP ON *.*",
    "REVOKE TABLE ENGINE ON *",
    ...LOCAL_TABLE_ENGINES.map((e) => `GRANT TABLE ENGINE ON ${e}`),
  ];
}

/** Writes `<dataDir>/gateway-access/{config,users}.xml`; returns the config file's path. */
export function writeEngineConfig(dataDir: string, access: EngineAccess): string {
  const dir = join(dataDir, "gateway-access");
  const scriptsDir = join(dir, "no-user-scripts");
  mkdirSync(scriptsDir, { recursive: true });
  const usersPath = join(dir, "users.xml");
  const configPath = join(dir, "config.xml");
  const grants = grantQueries(access)
    .map((q) => `        <query>${escapeXml(q)}</query>`)
    .join("\n");
  writeFileSync(
    usersPath,
    `<!-- Written by the ClickHouse gateway at start (scripts/local/clickhouse-http-gateway/access.ts); edits are overwritten. -->
<clickhouse>
  <profiles><default></default></profiles>
  <quotas><default></default></quotas>
  <users>
    <default>
      <password></password>
      <networks><ip>::/0</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
      <grants>
${grants}
      </grants>
    </default>
  </users>
</clickhouse>
`,
  );
  writeFileSync(
    configPath,
    `<!-- Written by the ClickHouse gateway at start (scripts/local/clickhouse-http-gateway/access.ts); edits are overwritten. -->
<clickhouse>
  <users_config>${escapeXml(usersPath)}</users_config>
  <table_engines_require_grant>${access.hostAccess ? "false" : "true"}</table_engines_require_grant>
  <user_scripts_path>${escapeXml(scriptsDir)}/</user_scripts_path>
</clickhouse>
`,
  );
  return configPath;
}
