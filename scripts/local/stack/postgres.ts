/**
 * PostgreSQL: we do NOT run a cluster of our own. We reconfigure the machine's cluster (the one
 * at PG_ADMIN_URL, by default the system cluster "15 main" on 127.0.0.1:5432) because that is the
 * PostgreSQL that CI has: tests must pass against it, not against a private copy.
 *
 * What `up` changes on it, idempotently:
 * - `wal_level=logical` (Debezium's logical decoding), plus enough replication slots and WAL
 *   senders, via ALTER SYSTEM. These need a server restart, which we do ONLY when the running
 *   value differs (normally once per machine), with `pg_ctlcluster --skip-systemctl-redirect`;
 * - database `feed` owned by `feed_app` (LOGIN, password feed_app): the app role owns the schema
 *   that migrations create;
 * - `feed_cdc` (LOGIN REPLICATION, password feed_cdc): the role Debezium logs in as; it gets
 *   SELECT on the tables feed_app creates, through default privileges.
 *
 * `down` leaves the server running (it is not ours) but drops every replication slot of the
 * `feed` database: a forgotten slot pins WAL on the machine forever.
 */
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import type { Component, ComponentStatus, UpOutcome } from "./component.ts";
import type { StackConfig } from "./config.ts";
import { say, waitFor } from "./proc.ts";

const DATABASE = "feed";
const APP_ROLE = "feed_app";
const CDC_ROLE = "feed_cdc";
/** Settings that need a restart; minimums for Debezium plus a few test slots. */
const REQUIRED = { wal_level: "logical", max_replication_slots: 10, max_wal_senders: 10 } as const;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  // A server restart ends sessions with an 'error' event; the pending query reports it instead.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `postgres: cannot connect to ${url} (${(err as Error).message}); start the machine's cluster with ` +
        "`pg_ctlcluster --skip-systemctl-redirect 15 main start`",
      { cause: err },
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function dbUrl(adminUrl: string, database: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function settings(c: pg.Client): Promise<Record<string, string>> {
  const { rows } = await c.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name = ANY($1)",
    [Object.keys(REQUIRED)],
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.setting]));
}

/** The ALTER SYSTEM statements still needed; empty when the running server already fits. */
function missingSettings(current: Record<string, string>): string[] {
  const out: string[] = [];
  if (current.wal_level !== REQUIRED.wal_level) out.push(`ALTER SYSTEM SET wal_level = '${REQUIRED.wal_level}'`);
  for (const key of ["max_replication_slots", "max_wal_senders"] as const) {
    if (Number(current[key]) < REQUIRED[key]) out.push(`ALTER SYSTEM SET ${key} = ${REQUIRED[key]}`);
  }
  return out;
}

/** The Debian cluster behind the admin URL ("<version>/<name>" is what pg_ctlcluster wants). */
async function clusterOf(c: pg.Client, adminUrl: string): Promise<{ version: string; name: string }> {
  const clusterName = (await c.query<{ cluster_name: string }>("SHOW cluster_name")).rows[0]?.cluster_name ?? "";
  const match = /^(\d+)\/(\S+)$/.exec(clusterName);
  const host = new URL(adminUrl).hostname;
  if (!match?.[1] || !match[2] || !["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
    throw new Error(
      `postgres: settings changed with ALTER SYSTEM but the server needs a restart, and it is not a local ` +
        `Debian cluster (cluster_name '${clusterName}', host ${host}); restart it yourself and re-run.`,
    );
  }
  return { version: match[1], name: match[2] };
}

async function restartCluster({ version, name }: { version: string; name: string }): Promise<void> {
  say(`postgres: restarting cluster ${version}/${name} to apply wal_level=logical (one-time machine change)`);
  await promisify(execFile)("pg_ctlcluster", ["--skip-systemctl-redirect", version, name, "restart"], {
    timeout: 120_000,
  });
}

async function ensureRolesAndDatabase(c: pg.Client): Promise<void> {
  const roles = new Set(
    (
      await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname = ANY($1)", [[APP_ROLE, CDC_ROLE]])
    ).rows.map((r) => r.rolname),
  );
  // CREATE when missing, ALTER otherwise: both leave the attributes we rely on in place.
  await c.query(`${roles.has(APP_ROLE) ? "ALTER" : "CREATE"} ROLE ${APP_ROLE} LOGIN PASSWORD '${APP_ROLE}'`);
  await c.query(
    `${roles.has(CDC_ROLE) ? "ALTER" : "CREATE"} ROLE ${CDC_ROLE} LOGIN REPLICATION PASSWORD '${CDC_ROLE}'`,
  );
  const db = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
  if (db.rowCount === 0) {
    // CREATE DATABASE cannot run in a transaction and has no IF NOT EXISTS; two concurrent `up`s
    // may race here, so "already exists" counts as success.
    await c.query(`CREATE DATABASE ${DATABASE} OWNER ${APP_ROLE}`).catch((err: { code?: string }) => {
      if (err.code !== "42P04") throw err;
    });
  } else {
    await c.query(`ALTER DATABASE ${DATABASE} OWNER TO ${APP_ROLE}`);
  }
}

async function ensureCdcGrants(adminUrl: string): Promise<void> {
  await withClient(dbUrl(adminUrl, DATABASE), async (c) => {
    await c.query(`GRANT CONNECT ON DATABASE ${DATABASE} TO ${CDC_ROLE}`);
    await c.query(`GRANT USAGE ON SCHEMA public TO ${CDC_ROLE}`);
    // Tables created later by migrations (run as feed_app) are readable by Debezium's snapshot.
    await c.query(
      `ALTER DEFAULT PRIVILEGES FOR ROLE ${APP_ROLE} IN SCHEMA public GRANT SELECT ON TABLES TO ${CDC_ROLE}`,
    );
    await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${CDC_ROLE}`);
  });
}

/**
 * Drops the replication slots of `feed` and those integration tests left behind (named
 * `test_*`, e.g. by a test run that was killed); an active slot gets a few seconds to be
 * released. Then drops the throwaway databases of such runs (`t_<name>_<12 hex>`).
 */
export async function dropFeedSlots(adminUrl: string, waitMs = 15_000): Promise<string[]> {
  return withClient(adminUrl, async (c) => {
    const dropped: string[] = [];
    const deadline = Date.now() + waitMs;
    for (;;) {
      const { rows } = await c.query<{ slot_name: string; active: boolean; active_pid: number | null }>(
        "SELECT slot_name, active, active_pid FROM pg_replication_slots WHERE database = $1 OR slot_name LIKE 'test\\_%'",
        [DATABASE],
      );
      if (rows.length === 0) {
        const leftovers = await c.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE datname ~ '^t_[a-z0-9_]+_[0-9a-f]{12}$'",
        );
        for (const { datname } of leftovers.rows) {
          // The name matched a strict pattern above, so it is safe to splice as an identifier.
          await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
        }
        return dropped;
      }
      for (const slot of rows.filter((s) => !s.active)) {
        await c.query("SELECT pg_drop_replication_slot($1)", [slot.slot_name]).catch(() => {});
        dropped.push(slot.slot_name);
      }
      const active = rows.filter((s) => s.active);
      if (active.length === 0) continue;
      if (Date.now() > deadline) {
        // Its consumer outlived Connect (or is not ours); end that walsender so the slot can go.
        for (const slot of active) {
          say(`postgres: slot ${slot.slot_name} still active (pid ${slot.active_pid}); terminating its walsender`);
          await c.query("SELECT pg_terminate_backend($1)", [slot.active_pid]);
        }
      }
      await sleep(500);
    }
  });
}

export function postgres(cfg: StackConfig): Component {
  const url = cfg.pgAdminUrl;
  return {
    name: "postgres",
    async up(): Promise<UpOutcome> {
      const cluster = await withClient(url, async (c) => {
        const changes = missingSettings(await settings(c));
        if (changes.length === 0) return null;
        for (const sql of changes) await c.query(sql);
        return clusterOf(c, url);
      });
      // Restarted with our own connection closed: the restart terminates every session.
      if (cluster) await restartCluster(cluster);
      const restarted = cluster !== null;
      if (restarted) {
        await waitFor("postgres", () => withClient(url, async () => true).catch(() => false), { timeoutMs: 60_000 });
        const still = await withClient(url, async (c) => missingSettings(await settings(c)));
        if (still.length > 0) throw new Error(`postgres: still not configured after the restart: ${still.join("; ")}`);
      }
      await withClient(url, ensureRolesAndDatabase);
      await ensureCdcGrants(url);
      return restarted ? "reconfigured" : "already running";
    },
    async status(): Promise<ComponentStatus> {
      const port = Number(new URL(url).port || 5432);
      try {
        return await withClient(url, async (c) => {
          const missing = missingSettings(await settings(c));
          const roles = await c.query("SELECT 1 FROM pg_roles WHERE rolname = ANY($1)", [[APP_ROLE, CDC_ROLE]]);
          const db = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [DATABASE]);
          const slots = await c.query("SELECT 1 FROM pg_replication_slots WHERE database = $1", [DATABASE]);
          // The postmaster's PID, from its own pid file (superuser may read the data directory).
          const pid = await c
            .query<{ pid: string }>("SELECT split_part(pg_read_file('postmaster.pid'), E'\\n', 1) AS pid")
            .then((r) => Number(r.rows[0]?.pid) || undefined)
            .catch(() => undefined);
          const problems = [
            ...missing.map(() => "needs wal_level=logical"),
            ...(roles.rowCount === 2 ? [] : ["roles missing"]),
            ...(db.rowCount === 1 ? [] : ["database feed missing"]),
          ];
          return {
            state: problems.length === 0 ? "healthy" : "unhealthy",
            pid,
            ports: [port],
            note: problems.length ? problems.join(", ") : `machine's cluster, ${slots.rowCount} slot(s) in feed`,
          };
        });
      } catch (err) {
        return { state: "stopped", ports: [port], note: (err as Error).message.split(";")[0] };
      }
    },
    async down(): Promise<void> {
      try {
        const dropped = await dropFeedSlots(url);
        if (dropped.length) say(`postgres: dropped replication slot(s) ${dropped.join(", ")}`);
      } catch (err) {
        say(`postgres: could not check replication slots: ${(err as Error).message}`);
      }
    },
  };
}
