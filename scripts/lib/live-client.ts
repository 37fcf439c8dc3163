/**
 * A live-channel client for tests and the benchmark: a WebSocket (Node's own) that records every
 * message, and a raw upgrade that shows the HTTP answer of a refused one (a WebSocket client
 * only says it failed).
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";

export interface LiveMessage {
  type: string;
  id?: string;
  count?: number;
  newest_at?: string | null;
  unread?: number;
  resumed?: boolean;
  at?: string;
}

export interface LiveClient {
  ws: WebSocket;
  messages: (LiveMessage & { receivedAt: number })[];
  /** The id of the last message that carried one (what a resume names). */
  lastId(): string | undefined;
  /** The first message from index `from` on that satisfies `check`. */
  next(
    check: (m: LiveMessage) => boolean,
    timeoutMs?: number,
    from?: number,
  ): Promise<LiveMessage & { receivedAt: number }>;
  close(): Promise<void>;
}

export function liveUrl(base: string, query: Record<string, string> = {}): string {
  const u = new URL("/api/v1/live", base.replace(/^http/, "ws"));
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

/** Opens the channel with the token as a `bearer.` subprotocol (as a browser would); resolves on `hello`. */
export async function openLive(base: string, token: string, query: Record<string, string> = {}): Promise<LiveClient> {
  const ws = new WebSocket(liveUrl(base, query), ["feed-live.v1", `bearer.${token}`]);
  const messages: LiveClient["messages"] = [];
  const waiters = new Set<() => void>();
  ws.addEventListener("message", (e) => {
    const text = String(e.data);
    // `pong` (the runtime's answer to `ping`) is the one frame that is not JSON.
    const m = text === "pong" ? { type: "pong" } : (JSON.parse(text) as LiveMessage);
    messages.push({ ...m, receivedAt: Date.now() });
    for (const w of waiters) w();
  });
  const client: LiveClient = {
    ws,
    messages,
    lastId: () => messages.filter((m) => m.id).at(-1)?.id,
    next(check, timeoutMs = 15_000, from = 0) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = messages.slice(from).find(check);
          if (!m) return false;
          cleanup();
          resolve(m);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no such live message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        const onClose = () => {
          if (look()) return;
          cleanup();
          reject(new Error(`live connection closed; got ${JSON.stringify(messages)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          ws.removeEventListener("close", onClose);
        };
        const wake = () => void look();
        waiters.add(wake);
        ws.addEventListener("close", onClose);
        look();
      });
    },
    close() {
      return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.addEventListener("close", () => resolve());
        ws.close(1000, "done");
      });
    },
  };
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("error", () => reject(new Error("live connection failed")), { once: true });
    ws.addEventListener("open", () => resolve(), { once: true });
  });
  await client.next((m) => m.type === "hello", 10_000);
  return client;
}

/** A WebSocket upgrade by hand: its status and, when refused, its body. */
export function rawUpgrade(
  base: string,
  headers: Record<string, string> = {},
  query: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
  const url = new URL(liveUrl(base, query).replace(/^ws/, "http"));
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: null, headers: res.headers });
    });
    req.on("response", (res) => {
      let text = "";
      res.on("data", (d) => (text += String(d)));
      res.on("end", () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the text
        }
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
      });
    });
    req.on("error", reject);
    req.end();
  });
}
