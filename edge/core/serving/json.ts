/**
 * A Redis reply that holds JSON, parsed: clients differ (Upstash's parses replies itself unless
 * told not to, ioredis never does), so a value may arrive as text or already parsed. Null for an
 * absent or unreadable value.
 */
export function jsonReply<T>(v: unknown): T | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string") return v as T;
  try {
    return JSON.parse(v) as T;
  } catch {
    return null;
  }
}
