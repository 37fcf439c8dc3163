/**
 * How the origin builds each client from its config. The process's app context (context.ts)
 * and every command (origin/cli/) take their clients from here, so a command talks to the same
 * services with the same settings as the origin beside it. Building connects nothing: whoever
 * builds a client connects and closes it.
 */
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import pg from "pg";
import { type Logger, pino } from "pino";
import { type OriginConfig, readConfig } from "./config.ts";
import { ConnectClient } from "./connect/manager.ts";
import { setConsumerSession, setPartitionsConcurrently } from "./kafka/session.ts";
import { type AnyRedis, clusterFromNodes } from "./redis-cluster.ts";

export interface ClientFactory {
  /** A PostgreSQL pool on DATABASE_URL of at most `max` connections (default 10). */
  pg(opts?: { max?: number }): pg.Pool;
  /**
   * ClickHouse on CLICKHOUSE_URL, in CLICKHOUSE_DATABASE; with `database: false` on the server
   * alone (what creates the database).
   */
  clickhouse(opts?: { database?: boolean }): ClickHouseClient;
  /** Kafka on KAFKA_BROKERS as `clientId` (default edge-feed-origin); kafkajs's warnings go to the log. */
  kafka(clientId?: string): Kafka;
  /**
   * The origin's Redis: a `Cluster` on REDIS_CLUSTER_NODES when that is set (clusterFromNodes),
   * else the standalone client on REDIS_URL. Either connects at `connect()` or its first command.
   * A command fails after one retry, except on a `blocking` client (one that waits on reads, the
   * relay's): it waits for Redis. Code that takes it runs its pipelines through `pipelineOf` and
   * its SCANs through `scanAll` (origin/src/redis-cluster.ts), so it runs on either.
   */
  redis(opts?: { blocking?: boolean }): AnyRedis;
  /** Kafka Connect's REST API on KAFKA_CONNECT_URL. */
  connect(): ConnectClient;
}

export function clientFactory(config: OriginConfig, log: Logger): ClientFactory {
  const standalone = (blocking: boolean) =>
    new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: blocking ? null : 1 });
  return {
    pg({ max = 10 } = {}) {
      const pool = new pg.Pool({ connectionString: config.databaseUrl, max, connectionTimeoutMillis: 5000 });
      pool.on("error", (err) => log.warn({ err: err.message }, "idle PostgreSQL client error"));
      return pool;
    },
    clickhouse({ database = true } = {}) {
      const { url, username, password } = config.clickhouse;
      return createClient({
        url,
        username,
        password,
        ...(database ? { database: config.clickhouse.database } : {}),
        request_timeout: 30_000,
      });
    },
    kafka(clientId = "edge-feed-origin") {
      const kafkaLog = log.child({ component: "kafkajs" });
      const kafka = new Kafka({
        clientId,
        brokers: config.kafka.brokers,
        logLevel: logLevel.WARN,
        logCreator:
          () =>
          ({ level, log: entry }) => {
            const { message, ...extra } = entry;
            if (level <= logLevel.ERROR) kafkaLog.error(extra, message);
            else kafkaLog.warn(extra, message);
          },
      });
      setConsumerSession(kafka, config.kafka.sessionTimeoutMs);
      setPartitionsConcurrently(kafka, config.kafka.partitionsConcurrently);
      return kafka;
    },
    redis({ blocking = false } = {}) {
      return config.redisClusterNodes ? clusterFromNodes(config.redisClusterNodes, { blocking }) : standalone(blocking);
    },
    connect() {
      return new ConnectClient(config.cdc.connectUrl);
    },
  };
}

/**
 * What a command (origin/cli/) starts from: the config read once, a log for its clients'
 * problems on stderr (stdout is the command's report), and the factory.
 */
export function commandClients(name: string): { config: OriginConfig; log: Logger; clients: ClientFactory } {
  const config = readConfig();
  const log = pino({ level: config.logLevel, base: { service: name } }, pino.destination(2));
  return { config, log, clients: clientFactory(config, log) };
}

/**
 * A command's failure for its user: the error's message, and what to do when the stores it
 * reads do not exist yet (the local stack is up but no product was started on it).
 */
export function commandFailure(err: unknown): string {
  const e = err as Error & { type?: string; code?: string };
  const missing = e.type === "UNKNOWN_DATABASE" || e.code === "3D000" || /database .* does not exist/i.test(e.message);
  return missing
    ? `${e.message} (nothing to check yet: start the product with \`npm run dev\`, or point CLICKHOUSE_DATABASE / DATABASE_URL at its stores)`
    : e.message;
}
