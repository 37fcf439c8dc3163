/**
 * `npm run bench:consumers -- [--events N] [--posts P] [--partitions K] [--concurrency C]
 * [--rounds R] [--out FILE]`: throughput of the Kafka consumers with one and with two processes
 * in a group, on the local stack (`npm run stack:up`). For the ClickHouse sink and for the
 * serving-index updater, for 1 and for 2 processes (scripts/bench/consumer-proc.ts, each its own
 * Node process; R rounds of each, default 2): P post creations (cdc.posts, in Debezium's shape,
 * keyed by id) and N events (impressions, shares and clicks of those posts by 2000 users, keyed
 * by user) are produced to topics of the run's own with K partitions each (default 12); then a
 * fresh consumer group (with a fresh ClickHouse database or index namespace) of that many
 * processes consumes them all. Timed from the moment every process has loaded (`go`) until the
 * group has committed the end of every partition ("all"), and from the moment the group is
 * stable with every process holding partitions ("steady": the messages left then over the time
 * left). Prints and writes the table (default docs/bench-results/consumers.md, + .json).
 * Everything it made is removed after.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { createClient } from "@clickhouse/client";
import { Redis } from "ioredis";
import { AssignerProtocol, Kafka, logLevel, Partitioners } from "kafkajs";
import { ALL_TOPICS } from "#core/topics.ts";
import { migrateClickHouse } from "../../origin/ch/migrate.ts";
import { argsOrExit, intArg, parseCli } from "../lib/cli.ts";
import { startRevision } from "../lib/revision.ts";
import { dropKeys } from "../lib/world.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const USAGE =
  "npm run bench:consumers -- [--events N] [--posts P] [--partitions K] [--concurrency C] [--rounds R] [--out FILE]";
const args = argsOrExit("[bench:consumers]", () => {
  const { values } = parseCli(USAGE, {
    events: { type: "string" },
    posts: { type: "string" },
    partitions: { type: "string" },
    concurrency: { type: "string" },
    rounds: { type: "string" },
    out: { type: "string" },
  });
  return {
    events: intArg(USAGE, "--events", values.events, 300_000, 1),
    posts: intArg(USAGE, "--posts", values.posts, 2000, 1),
    partitions: intArg(USAGE, "--partitions", values.partitions, 12, 1),
    concurrency: intArg(USAGE, "--concurrency", values.concurrency, 6, 1),
    rounds: intArg(USAGE, "--rounds", values.rounds, 2, 1),
    out: resolve(values.out ?? "docs/bench-results/consumers.md"),
  };
});
const command = ["npm run bench:consumers", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(
  " ",
);

const CH_URL = process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123";
const BROKERS = process.env.KAFKA_BROKERS ?? "127.0.0.1:9092";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const USERS = 2000;

const revision = startRevision(ROOT);
const id = randomBytes(4).toString("hex");
const kafka = new Kafka({ clientId: `bench-consumers-${id}`, brokers: BROKERS.split(","), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
const chAdmin = createClient({ url: CH_URL, request_timeout: 120_000 });
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
const made = { databases: [] as string[], namespaces: [] as string[], groups: [] as string[], topics: [] as string[] };

interface Run {
  part: "sink" | "index";
  processes: number;
  round: number;
  /** `go` → the group committed the end of every partition. */
  ms: number;
  /** `go` → the group stable with every process holding partitions. */
  stableMs: number;
  /** Messages committed when the group became stable. */
  atStable: number;
  perS: number;
  /** The messages left when the group became stable, over the time left; null when under a tenth were left. */
  steadyPerS: number | null;
  /** Per process: batches and CPU time since `go`. */
  procs: { batches: number; cpuMs: number }[];
}

type Message = { key: string; value: string };

await admin.connect();
await producer.connect();
try {
  const messages = generate();
  const total = messages.posts.length + messages.events.length;
  console.log(`[bench:consumers] ${total} messages per run, ${args.partitions} partitions per topic`);
  const runs: Run[] = [];
  for (let round = 1; round <= args.rounds; round++) {
    for (const part of ["sink", "index"] as const) {
      for (const processes of [1, 2]) {
        const r = await runOnce(part, processes, round, messages);
        console.log(
          `[bench:consumers] ${part} × ${processes} (round ${round}): ${r.ms} ms (stable after ${r.stableMs} ms, ${r.atStable} committed), ${r.perS}/s, steady ${r.steadyPerS ?? "–"}/s, batches ${r.procs.map((p) => p.batches).join("+")}, CPU ${r.procs.map((p) => p.cpuMs).join("+")} ms`,
        );
        runs.push(r);
      }
    }
  }
  report(runs, total);
} finally {
  await cleanup();
}

/** The post creations (cdc.posts) and the events of every run. */
function generate(): { posts: Message[]; events: Message[] } {
  const users = Array.from({ length: USERS }, () => randomUUID());
  const now = Date.now();
  const posts = Array.from({ length: args.posts }, (_, i) => ({
    id: randomUUID(),
    author_id: users[(i * 13) % USERS] as string,
    text: `bench post ${i}`,
    created_at: new Date(now - 60_000 + i).toISOString(),
    updated_at: new Date(now - 60_000 + i).toISOString(),
    deleted_at: null,
  }));
  const types = ["impression", "impression", "impression", "impression", "impression", "impression", "share", "click"];
  return {
    posts: posts.map((p, i) => ({
      key: JSON.stringify({ id: p.id }),
      value: JSON.stringify({ op: "c", before: null, after: p, source: { lsn: 1000 + i, ts_ms: now } }),
    })),
    events: Array.from({ length: args.events }, (_, i) => {
      const user = users[i % USERS] as string;
      return {
        key: user,
        value: JSON.stringify({
          event_id: randomUUID(),
          user_id: user,
          post_id: (posts[(i * 7919) % posts.length] as { id: string }).id,
          type: types[i % types.length],
          client_ts: now,
          received_at: now + Math.floor(i / 100),
          dwell_ms: 0,
        }),
      };
    }),
  };
}

async function send(topic: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 5000)
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 5000) });
}

async function committed(groupId: string, topics: string[]): Promise<number> {
  const res = await admin.fetchOffsets({ groupId, topics });
  return res.reduce((n, t) => n + t.partitions.reduce((m, p) => m + Math.max(0, Number(p.offset)), 0), 0);
}

/**
 * Creates the topics and waits until every partition has a leader (a broker just after a long
 * run has been seen to answer UNKNOWN_TOPIC_OR_PARTITION to the create's own wait).
 */
async function createTopics(topics: string[]): Promise<void> {
  await admin
    .createTopics({ topics: topics.map((topic) => ({ topic, numPartitions: args.partitions })), waitForLeaders: true })
    .catch(() => {});
  const t0 = Date.now();
  for (;;) {
    const ok = await admin
      .fetchTopicMetadata({ topics })
      .then(
        (m) =>
          m.topics.length === topics.length &&
          m.topics.every((t) => t.partitions.length === args.partitions && t.partitions.every((p) => p.leader >= 0)),
      )
      .catch(() => false);
    if (ok) return;
    if (Date.now() - t0 > 60_000) throw new Error(`topics ${topics[0]}… not ready in 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether the group is stable with `members` members, each holding partitions. */
async function stableWith(groupId: string, members: number): Promise<boolean> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  const held = (g?.members ?? []).map(
    (m) => Object.values(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment ?? {}).flat().length,
  );
  return g?.state === "Stable" && held.length === members && held.every((n) => n > 0);
}

async function runOnce(
  part: "sink" | "index",
  processes: number,
  round: number,
  messages: { posts: Message[]; events: Message[] },
): Promise<Run> {
  const tag = `${part}-${processes}-${round}`;
  const ns = `benchc${id}${tag}.`;
  const topics = ALL_TOPICS.map((t) => ns + t);
  made.topics.push(...topics);
  await createTopics(topics);
  const groupId = `benchc-${id}-${tag}`;
  made.groups.push(groupId);
  const env: Record<string, string> = {
    BENCH_PART: part,
    BENCH_GROUP: groupId,
    BENCH_TOPIC_NAMESPACE: ns,
    BENCH_CONCURRENCY: String(args.concurrency),
    KAFKA_BROKERS: BROKERS,
    CLICKHOUSE_URL: CH_URL,
    REDIS_URL,
  };
  if (part === "sink") {
    const db = `benchc_${id}_${processes}_${round}`;
    made.databases.push(db);
    const ch = createClient({ url: CH_URL, database: db, request_timeout: 120_000 });
    await migrateClickHouse(chAdmin, ch, db);
    await ch.close();
    env.BENCH_CH_DATABASE = db;
  } else {
    const indexNs = `benchc${id}p${processes}r${round}:`;
    made.namespaces.push(indexNs);
    env.BENCH_INDEX_NAMESPACE = indexNs;
  }
  const total = messages.posts.length + messages.events.length;
  await send(`${ns}cdc.posts`, messages.posts);
  await send(`${ns}events`, messages.events);
  const children = Array.from({ length: processes }, () => child(env));
  try {
    await Promise.all(children.map((c) => c.next("LOADED")));
    const t0 = performance.now();
    for (const c of children) c.send("go");
    let tStable = 0;
    let atStable = 0;
    for (;;) {
      const n = await committed(groupId, topics);
      if (tStable === 0 && (await stableWith(groupId, processes))) {
        tStable = performance.now();
        atStable = await committed(groupId, topics);
      }
      if (n >= total) break;
      if (performance.now() - t0 > 600_000) throw new Error(`${tag}: not done in 600 s (${n}/${total})`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const t1 = performance.now();
    if (tStable === 0) {
      tStable = t1;
      atStable = total;
    }
    const stats = await Promise.all(
      children.map(async (c) => {
        c.send("stop");
        return JSON.parse((await c.next("STATS ")).slice(6)) as { batches: number; cpuMs: number };
      }),
    );
    const left = total - atStable;
    return {
      part,
      processes,
      round,
      ms: Math.round(t1 - t0),
      stableMs: Math.round(tStable - t0),
      atStable,
      perS: Math.round(total / ((t1 - t0) / 1000)),
      steadyPerS: left >= total / 10 ? Math.round(left / ((t1 - tStable) / 1000)) : null,
      procs: stats.map((s) => ({ batches: s.batches, cpuMs: s.cpuMs })),
    };
  } finally {
    for (const c of children) c.kill();
    await admin.deleteTopics({ topics }).catch(() => {});
  }
}

/** A consumer process: `next(prefix)` resolves with its next stdout line starting with `prefix`. */
function child(env: Record<string, string>) {
  const proc: ChildProcess = spawn(
    join(ROOT, "node_modules/.bin/node"),
    ["--import", "tsx", "scripts/bench/consumer-proc.ts"],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "inherit"] },
  );
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  const lines: string[] = [];
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const w = waiting.findIndex((x) => line.startsWith(x.prefix));
    if (w >= 0) waiting.splice(w, 1)[0]?.resolve(line);
    else lines.push(line);
  });
  const exited = new Promise<never>((_, reject) =>
    proc.once("exit", (code) => reject(new Error(`consumer process exited (${code})`))),
  );
  exited.catch(() => {});
  return {
    send: (line: string) => proc.stdin?.write(`${line}\n`),
    next: (prefix: string) => {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return Promise.resolve(lines.splice(i, 1)[0] as string);
      return Promise.race([new Promise<string>((resolve) => waiting.push({ prefix, resolve })), exited]);
    },
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    },
  };
}

function report(runs: Run[], total: number): void {
  const commit = revision.label();
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? (v[m] as number) : Math.round(((v[m - 1] as number) + (v[m] as number)) / 2);
  };
  const rows = (["sink", "index"] as const).flatMap((part) =>
    [1, 2].map((processes) => {
      const rs = runs.filter((r) => r.part === part && r.processes === processes);
      const steady = rs.map((r) => r.steadyPerS).filter((x): x is number => x !== null);
      return {
        part,
        processes,
        perS: median(rs.map((r) => r.perS)),
        steadyPerS: steady.length ? median(steady) : null,
        ms: median(rs.map((r) => r.ms)),
        stableMs: median(rs.map((r) => r.stableMs)),
        cpuMs: median(rs.map((r) => r.procs.reduce((n, p) => n + p.cpuMs, 0))),
        rounds: rs.map((r) => `${r.perS} (${r.steadyPerS ?? "–"})`),
      };
    }),
  );
  const name = { sink: "ClickHouse sink", index: "index updater" };
  const lines = [
    "# Consumers: one process vs two",
    "",
    `\`${command}\` on ${new Date().toISOString().slice(0, 10)}, commit ${commit}; ${cpus().length} cores, shared with Kafka, the ClickHouse gateway and Redis of the local stack.`,
    "",
    `Per run: ${args.posts} post creations (cdc.posts) and ${args.events} events (impressions, shares and clicks of those posts by ${USERS} users) = ${total} messages on ${args.partitions} partitions per topic, produced before the consumers start; each process works on ${args.concurrency} partitions at once. "All": every message over \`go\` (each process loaded) → the group committed the end of every partition, joining the group included. "Steady": the messages left when the group was stable with every process holding partitions, over the time left. CPU: the consumer processes' own, from \`go\` on. Medians of ${args.rounds} rounds.`,
    "",
    "| consumer | processes | all, messages/s | steady, messages/s | wall time | group stable after | CPU time | each round: all (steady) |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${name[r.part]} | ${r.processes} | ${r.perS} | ${r.steadyPerS ?? "–"} | ${(r.ms / 1000).toFixed(1)} s | ${(r.stableMs / 1000).toFixed(1)} s | ${(r.cpuMs / 1000).toFixed(1)} s | ${r.rounds.join(", ")} |`,
    ),
    "",
  ];
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, lines.join("\n"));
  const { out: _out, ...options } = args;
  writeFileSync(
    args.out.replace(/\.md$/, ".json"),
    `${JSON.stringify({ date: new Date().toISOString(), commit, command, cores: cpus().length, options, total, rows, runs }, null, 2)}\n`,
  );
  console.log(`\n${lines.join("\n")}`);
  console.log(`[bench:consumers] written to ${args.out} (+ .json)`);
}

async function cleanup(): Promise<void> {
  await producer.disconnect().catch(() => {});
  if (made.topics.length) await admin.deleteTopics({ topics: made.topics }).catch(() => {});
  if (made.groups.length) await admin.deleteGroups(made.groups).catch(() => {});
  await admin.disconnect().catch(() => {});
  for (const db of made.databases) await chAdmin.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => {});
  for (const n of made.namespaces) await dropKeys(redis, `${n}*`).catch(() => {});
  redis.disconnect();
  await chAdmin.close();
}
