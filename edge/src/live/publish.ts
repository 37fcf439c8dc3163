/**
 * Hands published messages to the users' Durable Objects: one call per user, a bounded number at
 * a time. Best effort: an object that fails is counted, not retried (the messages are state; the
 * next change, or the client's REST read, brings the value).
 */
import { byUser, type PublishMessage } from "#core/live/protocol.ts";
import type { LiveNamespace } from "../bindings.ts";

/** Objects called at once for one publish. */
const FANOUT_CONCURRENCY = 32;

export interface FanoutReport {
  users: number;
  /** Users with at least one open connection. */
  connected: number;
  failed: number;
}

export async function fanOut(ns: LiveNamespace, messages: readonly PublishMessage[]): Promise<FanoutReport> {
  const groups = [...byUser(messages)];
  const report: FanoutReport = { users: groups.length, connected: 0, failed: 0 };
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const [user, list] = groups[next++] as [string, PublishMessage[]];
      try {
        const r = await ns.get(ns.idFromName(user) as never).publish(list);
        if (r.connections > 0) report.connected++;
      } catch {
        report.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FANOUT_CONCURRENCY, groups.length) }, worker));
  return report;
}
