/**
 * Fault injection for the fault matrix (scripts/faults/): a consumer part that dies mid-batch,
 * at the worst moment, after its writes landed and before its offsets are committed. Off unless
 * FAULT_INJECTION_FILE is set (config.ts); then SIGUSR2 arms it: the process reads the file,
 * which names a consumer part (`index-updater`, `clickhouse-sink`, `notifications`), and the next
 * batch of that part to reach that moment appends what it was doing (part, topic, partition,
 * offsets) to `<file>.fired` and SIGKILLs its own process. The batch then comes again, to
 * whichever process holds its partition next.
 */
import { appendFileSync, readFileSync } from "node:fs";
import type { Batch } from "kafkajs";
import type { Logger } from "pino";

let file: string | null = null;
let armed: string | null = null;

/** Listens for SIGUSR2 (once per process); without a file nothing is installed. */
export function installFailpoints(path: string | null, log: Logger): void {
  if (!path || file) return;
  file = path;
  process.on("SIGUSR2", () => {
    try {
      armed = readFileSync(path, "utf8").trim() || null;
      log.warn({ part: armed }, "failpoint armed: the next batch of this part dies between its writes and its commit");
    } catch (err) {
      log.error({ err: (err as Error).message, file: path }, "failpoint file unreadable; not armed");
    }
  });
}

/** Called by a consumer part between a batch's writes and its commit: dies there when armed for it. */
export function midBatch(part: string, batch: Pick<Batch, "topic" | "partition" | "messages">): void {
  if (armed === null || armed !== part || !file) return;
  const first = batch.messages[0]?.offset;
  const last = batch.messages[batch.messages.length - 1]?.offset;
  const fired = { part, topic: batch.topic, partition: batch.partition, first, last, at: Date.now(), pid: process.pid };
  try {
    appendFileSync(`${file}.fired`, `${JSON.stringify(fired)}\n`);
  } finally {
    process.kill(process.pid, "SIGKILL");
  }
}
