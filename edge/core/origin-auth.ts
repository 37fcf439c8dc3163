/**
 * How the edge proves to the origin who the caller is: an HMAC-SHA256 over the request (time,
 * request id, method, path with query, user id and a SHA-256 of the body) with a secret both
 * share (ORIGIN_SHARED_SECRET). The origin refuses unsigned, forged, stale (±60 s) or replayed
 * (same request id) requests. Web Crypto only, so both runtimes run this same code.
 */

export const SIGNATURE_HEADERS = {
  user: "x-edge-user",
  timestamp: "x-edge-timestamp",
  requestId: "x-edge-request-id",
  signature: "x-edge-signature",
} as const;

/** Requests older or newer than this are refused. */
export const MAX_SIGNATURE_SKEW_MS = 60_000;

const enc = new TextEncoder();

function hex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(body: Uint8Array): Promise<string> {
  // Copy into a plain ArrayBuffer-backed view: digest() does not take shared buffers.
  return hex(await crypto.subtle.digest("SHA-256", new Uint8Array(body)));
}

async function hmacHex(secret: string, text: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
}

export interface SignedParts {
  method: string;
  /** Path and query as sent to the origin, e.g. "/v1/posts?x=1". */
  pathWithQuery: string;
  userId: string;
  timestampMs: number;
  requestId: string;
  body: Uint8Array;
}

export async function canonicalString(p: SignedParts): Promise<string> {
  return [p.timestampMs, p.requestId, p.method.toUpperCase(), p.pathWithQuery, p.userId, await sha256Hex(p.body)].join(
    "\n",
  );
}

export async function signRequest(secret: string, p: SignedParts): Promise<Record<string, string>> {
  return {
    [SIGNATURE_HEADERS.user]: p.userId,
    [SIGNATURE_HEADERS.timestamp]: String(p.timestampMs),
    [SIGNATURE_HEADERS.requestId]: p.requestId,
    [SIGNATURE_HEADERS.signature]: await hmacHex(secret, await canonicalString(p)),
  };
}

/** Constant-time comparison of two hex strings. */
function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export type VerifyResult =
  | {
      ok: true;
      userId: string;
      requestId: string;
      /** The verified signature: unique to this exact request, so the key of the replay guard. */
      signature: string;
    }
  | { ok: false; reason: string };

/** Whether a request carries every signature header (checked before its body is read). */
export function hasSignatureHeaders(headers: (name: string) => string | undefined): boolean {
  return Object.values(SIGNATURE_HEADERS).every((h) => Boolean(headers(h)));
}

export async function verifyRequest(
  secret: string,
  req: { method: string; pathWithQuery: string; headers: (name: string) => string | undefined; body: Uint8Array },
  nowMs: number,
): Promise<VerifyResult> {
  const userId = req.headers(SIGNATURE_HEADERS.user);
  const ts = req.headers(SIGNATURE_HEADERS.timestamp);
  const requestId = req.headers(SIGNATURE_HEADERS.requestId);
  const signature = req.headers(SIGNATURE_HEADERS.signature);
  if (!userId || !ts || !requestId || !signature) return { ok: false, reason: "unsigned request" };
  const timestampMs = Number(ts);
  if (!Number.isInteger(timestampMs) || Math.abs(nowMs - timestampMs) > MAX_SIGNATURE_SKEW_MS) {
    return { ok: false, reason: "stale or malformed signature timestamp" };
  }
  const expected = await hmacHex(
    secret,
    await canonicalString({
      method: req.method,
      pathWithQuery: req.pathWithQuery,
      userId,
      timestampMs,
      requestId,
      body: req.body,
    }),
  );
  if (!/^[0-9a-f]{64}$/.test(signature) || !safeEqual(expected, signature))
    return { ok: false, reason: "bad signature" };
  return { ok: true, userId, requestId, signature };
}
